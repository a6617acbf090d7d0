"""The hub's audit trail: keeping every service's `hub.audit` entries, and finding them again.

Entries are only ever inserted (the table refuses anything else); a redelivered entry has the
same event id and inserts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.security.audit import AuditEntry
from hub_notifier.adapters import orm

a = orm.audit_log

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


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "event_id": entry.event_id,
        "at": entry.at,
        "service": entry.service,
        "actor_role": entry.actor_role,
        "actor_subject": entry.actor_subject,
        "actor_organisation": entry.actor_organisation,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_ids": list(entry.resource_ids),
        "method": entry.method,
        "route": entry.route,
        "peer": entry.peer,
        "forwarded_for": entry.forwarded_for,
        "outcome": entry.outcome,
    }


class AuditTrail:
    """Stores audit entries (idempotently) and answers coordinators' questions about them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Insert the entries in one transaction; those already kept are skipped."""
        if not entries:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                insert(a).on_conflict_do_nothing(index_elements=[a.c.event_id]),
                [_row(entry) for entry in entries],
            )

    async def search(self, query: AuditQuery) -> list[Any]:
        """Matching entries, newest first, at most `limit` (capped at MAX_LIMIT)."""
        statement = select(a).order_by(a.c.at.desc(), a.c.event_id.desc())
        if query.resource_id is not None:
            statement = statement.where(a.c.resource_ids.contains(array([query.resource_id])))
        if query.actor_subject is not None:
            statement = statement.where(a.c.actor_subject == query.actor_subject)
        if query.action is not None:
            statement = statement.where(a.c.action == query.action)
        if query.since is not None:
            statement = statement.where(a.c.at >= query.since)
        if query.until is not None:
            statement = statement.where(a.c.at < query.until)
        statement = statement.limit(max(1, min(query.limit, MAX_LIMIT)))
        async with self._sessions() as session:
            return list((await session.execute(statement)).all())
