"""Operators' view of deliveries that gave up, and the way to send them again.

A retried dead letter goes out with its original event number and body: the referrer may get it
after later events, and the number tells them where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, PENDING, SENT_BY_WORKER

d = orm.deliveries


class DeadLetters:
    """Lists and revives dead deliveries (ids, counts and error kinds only: no content)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._on_commit = on_commit

    async def list(self, subscription_id: str | None = None, limit: int = 100) -> list[Any]:
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
        async with self._sessions() as session:
            return list((await session.execute(query)).all())

    async def retry(self, delivery_id: str) -> bool:
        """Put a dead delivery back in the queue, with a fresh retry window; False if none."""
        async with self._sessions.begin() as session:
            revived = await session.scalar(
                update(d)
                .where(
                    d.c.delivery_id == delivery_id,
                    d.c.status == DEAD,
                    # Only what the delivery worker sends: a Kafka delivery that died had no
                    # topic to go to, and would die again.
                    d.c.channel.in_(SENT_BY_WORKER),
                )
                .values(
                    status=PENDING,
                    due_at=self._clock(),
                    attempts=0,
                    first_attempt_at=None,
                )
                .returning(d.c.delivery_id)
            )
        if revived:
            self._on_commit()
        return revived is not None
