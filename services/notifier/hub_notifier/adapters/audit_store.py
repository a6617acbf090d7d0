"""The hub's audit trail (every service's `hub.audit` entries), as a repository over the use
case's session. Entries are only ever inserted (the table refuses anything else)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.security.audit import AuditEntry
from hub_notifier.adapters import orm

a = orm.audit_log


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


class AuditEntries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entries: Sequence[AuditEntry]) -> None:
        """Insert the entries; those kept already (the same event id) are skipped."""
        if entries:
            await self._session.execute(
                insert(a).on_conflict_do_nothing(index_elements=[a.c.event_id]),
                [_row(entry) for entry in entries],
            )

    async def search(
        self,
        *,
        resource_id: str | None,
        actor_subject: str | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> list[Any]:
        """Matching entries, newest first, at most `limit`; each filter given narrows them."""
        statement = select(a).order_by(a.c.at.desc(), a.c.event_id.desc())
        if resource_id is not None:
            statement = statement.where(a.c.resource_ids.contains(array([resource_id])))
        if actor_subject is not None:
            statement = statement.where(a.c.actor_subject == actor_subject)
        if action is not None:
            statement = statement.where(a.c.action == action)
        if since is not None:
            statement = statement.where(a.c.at >= since)
        if until is not None:
            statement = statement.where(a.c.at < until)
        return list((await self._session.execute(statement.limit(limit))).all())
