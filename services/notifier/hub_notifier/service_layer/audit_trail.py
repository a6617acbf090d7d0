"""The hub's audit trail: keeping every service's `hub.audit` entries, and finding them again.

Entries are only ever inserted (the table refuses anything else); a redelivered entry has the
same event id and inserts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.security.audit import AuditEntry
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditQuery:
    """`GET /audit` filters, already parsed; each one given narrows the answer."""

    resource_id: str | None = None
    actor_subject: str | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 100


class AuditTrail:
    """Stores audit entries (idempotently) and answers coordinators' questions about them."""

    def __init__(
        self, sessions: Sessions, units: Callable[[], NotifierUnitOfWork] | None = None
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions))

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Insert the entries in one transaction; those already kept are skipped."""
        if not entries:
            return
        unit = self._new_unit()
        async with unit.transaction():
            await unit.audit.add(entries)

    async def search(self, query: AuditQuery) -> list[Any]:
        """Matching entries, newest first, at most `limit` (capped at MAX_LIMIT)."""
        unit = self._new_unit()
        async with unit.transaction():
            return await unit.audit.search(
                resource_id=query.resource_id,
                actor_subject=query.actor_subject,
                action=query.action,
                since=query.since,
                until=query.until,
                limit=max(1, min(query.limit, MAX_LIMIT)),
            )
