"""Which organisation runs a directory service: the one thing onward referral needs of the
community services directory.

`ServiceLookup` is the port; `ReadModelServiceLookup` answers it from the router's read model
of the directory (`router.directory_services`, kept from `directory.services` by the
`router-services` consumer: `adapters/directory_store.py`), by the service's directory id (the
topic's key, which is also what `HealthcareService.identifier` carries). The organisation's
e-mail comes from the Organization in the service's Bundle as published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.region.directory import NotADirectoryEntry, read_bundle
from hub_router.adapters import orm


@dataclass(frozen=True)
class ServiceEntry:
    """A directory service as onward referral sees it."""

    service_id: str  # its directory id
    service_name: str
    organisation_id: str
    organisation_name: str
    organisation_email: str | None
    active: bool


class ServiceLookup(Protocol):
    async def find(self, session: AsyncSession, service_id: str) -> ServiceEntry | None:
        """The service, or None when the directory does not list it (or withdrew it)."""
        ...


class ReadModelServiceLookup:
    """`ServiceLookup` over the router's directory read model (`router.directory_services`);
    a service is found by its directory id, or by its HealthcareService id."""

    async def find(self, session: AsyncSession, service_id: str) -> ServiceEntry | None:
        t = orm.directory_services
        row = (
            await session.execute(
                select(t.c.directory_id, t.c.name, t.c.organisation_id, t.c.organisation_name,
                       t.c.active, t.c.bundle)
                .where(or_(t.c.directory_id == service_id, t.c.id == service_id))
                .limit(1)
            )
        ).first()  # fmt: skip
        if row is None:
            return None
        try:
            email = read_bundle(row.bundle).organisation.email
        except (NotADirectoryEntry, KeyError, TypeError):
            email = None  # the read model kept it, so it was readable; be lenient all the same
        return ServiceEntry(
            row.directory_id,
            row.name,
            row.organisation_id,
            row.organisation_name,
            email,
            row.active,
        )
