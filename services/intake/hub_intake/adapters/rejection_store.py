"""The intake's recorded rejections: each refused referral once (by its fingerprint)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_intake.adapters import orm

j = orm.rejections


class Rejections:
    """Rejections by id; the same refused content (fingerprint) is recorded once."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        rejection_id: str,
        source: str,
        referrer_reference: str | None,
        fingerprint: str,
        received_at: datetime,
        event: dict[str, Any],
    ) -> bool:
        """Record a rejection; False when the same content was refused before."""
        inserted = await self._session.scalar(
            insert(j)
            .values(
                rejection_id=rejection_id,
                source=source,
                referrer_reference=referrer_reference,
                fingerprint=fingerprint,
                received_at=received_at,
                event=event,
            )
            .on_conflict_do_nothing(index_elements=["fingerprint"])
            .returning(j.c.rejection_id)
        )
        return inserted is not None

    async def outcome_of(self, rejection_id: str) -> Any:
        """The OperationOutcome a recorded rejection gave, if there is one."""
        event = await self._session.scalar(
            select(j.c.event).where(j.c.rejection_id == rejection_id)
        )
        return event.get("outcome") if event else None

    async def not_replayed(self, source: str | None = None) -> list[Any]:
        """The rejections not replayed yet (of one source, when given), oldest first: rows of
        rejection id, source and the rejection event (which keeps the original document)."""
        query = select(j.c.rejection_id, j.c.source, j.c.event).where(j.c.replayed_at.is_(None))
        if source:
            query = query.where(j.c.source == source)
        return list((await self._session.execute(query.order_by(j.c.received_at))).all())

    async def mark_replayed(self, rejection_id: str, at: datetime) -> None:
        await self._session.execute(
            update(j).where(j.c.rejection_id == rejection_id).values(replayed_at=at)
        )
