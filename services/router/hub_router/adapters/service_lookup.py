"""Which organisation runs a directory service: the one thing onward referral needs of the
community services directory.

`ServiceLookup` is the port. `TableServiceLookup` answers it from `router.onward_services`,
which the router's `router-onward-services` consumer keeps from `directory.services`
(`remember_service`, `forget_service`). When the router has a full read model of the
directory (search and capacity), point the port at that instead: implement `find` over it in
the caller's session, and drop the table and its consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.directory import read_bundle
from hub_router.adapters import orm


@dataclass(frozen=True)
class ServiceEntry:
    """A directory service as onward referral sees it."""

    service_id: str
    service_name: str
    organisation_id: str
    organisation_name: str
    organisation_email: str | None
    active: bool


class ServiceLookup(Protocol):
    async def find(self, session: AsyncSession, service_id: str) -> ServiceEntry | None:
        """The service, or None when the directory does not list it (or withdrew it)."""
        ...


class TableServiceLookup:
    """`ServiceLookup` over `router.onward_services`."""

    async def find(self, session: AsyncSession, service_id: str) -> ServiceEntry | None:
        row = (
            await session.execute(
                select(orm.onward_services).where(orm.onward_services.c.service_id == service_id)
            )
        ).first()
        if row is None:
            return None
        return ServiceEntry(
            row.service_id,
            row.service_name,
            row.organisation_id,
            row.organisation_name,
            row.organisation_email,
            row.active,
        )


async def remember_service(session: AsyncSession, bundle: dict[str, Any]) -> None:
    """Keep the latest entry of one `directory.services` message (an upsert: idempotent).
    A temporarily closed service stays known but takes no new onward referral.
    NotADirectoryEntry (a ValueError) for a value of another shape."""
    service = read_bundle(bundle)
    values = {
        "service_name": service.name[:500],
        "organisation_id": service.organisation.id,
        "organisation_name": service.organisation.name[:500],
        "organisation_email": service.organisation.email,
        "active": not service.temporarily_closed,
        "updated_at": func.now(),
    }
    await session.execute(
        pg_insert(orm.onward_services)
        .values(service_id=service.id, **values)
        .on_conflict_do_update(index_elements=["service_id"], set_=values)
    )


async def forget_service(session: AsyncSession, service_id: str) -> None:
    """A tombstone withdrew the service: no new onward referral to it (those sent stay)."""
    await session.execute(
        update(orm.onward_services)
        .where(orm.onward_services.c.service_id == service_id)
        .values(active=False, updated_at=func.now())
    )
