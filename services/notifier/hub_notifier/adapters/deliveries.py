"""Operators' view of the deliveries table, as a repository over the use case's session:
the dead letters, and sending one again (`service_layer/dead_letters.py` decides how).
The delivery worker's own queries live in delivery_store.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, DELIVERED, PENDING

d = orm.deliveries


class Deliveries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def dead(self, subscription_id: str | None = None, limit: int = 100) -> list[Any]:
        """Dead letters in order, ids, counts and error kinds only (no content)."""
        query = (
            select(
                d.c.delivery_id,
                d.c.subscription_id,
                d.c.event_number,
                d.c.kind,
                d.c.channel,
                d.c.referral_id,
                d.c.attempts,
                d.c.last_error,
                d.c.first_attempt_at,
                d.c.last_attempt_at,
                d.c.created_at,
            )
            .where(d.c.status == DEAD)
            .order_by(d.c.seq)
            .limit(limit)
        )
        if subscription_id:
            query = query.where(d.c.subscription_id == subscription_id)
        return list((await self._session.execute(query)).all())

    async def dead_one(self, delivery_id: str) -> Any | None:
        """A dead letter's channel, referral, subscription and body; None if no such one."""
        return (
            await self._session.execute(
                select(d.c.channel, d.c.referral_id, d.c.subscription_id, d.c.body).where(
                    d.c.delivery_id == delivery_id, d.c.status == DEAD
                )
            )
        ).first()

    async def requeue(self, delivery_id: str, now: datetime) -> None:
        """Back in the delivery worker's queue, due now, with a fresh retry window."""
        await self._session.execute(
            update(d)
            .where(d.c.delivery_id == delivery_id)
            .values(status=PENDING, due_at=now, attempts=0, first_attempt_at=None)
        )

    async def delivered(self, delivery_id: str, at: datetime) -> None:
        await self._session.execute(
            update(d)
            .where(d.c.delivery_id == delivery_id)
            .values(status=DELIVERED, delivered_at=at)
        )

    async def status_of(self, delivery_id: str) -> str:
        return str(
            await self._session.scalar(select(d.c.status).where(d.c.delivery_id == delivery_id))
        )
