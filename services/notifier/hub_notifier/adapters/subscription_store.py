"""The SQL of a subscription's life after creation: rotating its secret, turning it off and on,
and queueing heartbeats. Each method is one short transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.jsonio import dumps
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import PARKED_UNTIL, PENDING
from hub_notifier.domain.subscription import Channel, SubscriptionStatus

s = orm.subscriptions
d = orm.deliveries

Heartbeat = Callable[[Any, str], dict[str, Any]]
"""Builds the heartbeat Bundle for a subscription row and the delivery id it goes out as."""


class SubscriptionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def rotate_secret(
        self, subscription_id: str, organisation: str, new_secret: str, grace_until: datetime
    ) -> Any | None:
        """The current secret becomes the previous one (signing until `grace_until`) and
        `new_secret` the current one. A second rotation within the grace period drops the
        oldest: two secrets at most sign a request. None when unknown or another's."""
        async with self._sessions.begin() as session:
            return (
                await session.execute(
                    update(s)
                    .where(
                        s.c.subscription_id == subscription_id, s.c.requester_org == organisation
                    )
                    .values(
                        previous_secret=s.c.secret,
                        previous_secret_until=grace_until,
                        secret=new_secret,
                        updated_at=func.now(),
                    )
                    .returning(*s.c)
                )
            ).first()

    async def turn_off(self, subscription_id: str, organisation: str) -> Any | None:
        """Off: no new events are numbered for it, and its pending deliveries are parked (the
        delivery worker parks any it meets later, e.g. one in flight that fails)."""
        async with self._sessions.begin() as session:
            row = await self._lock(session, subscription_id, organisation)
            if row is None or row.status == SubscriptionStatus.OFF.value:
                return row
            await session.execute(
                update(d)
                .where(d.c.subscription_id == subscription_id, d.c.status == PENDING)
                .values(due_at=PARKED_UNTIL)
            )
            return await self._set_status(session, subscription_id, SubscriptionStatus.OFF)

    async def turn_on(self, subscription_id: str, organisation: str, now: datetime) -> Any | None:
        """Back on where it stopped: active, its parked deliveries due now, in their order.
        The endpoint cannot have changed, so there is no second handshake; `last_notified_at`
        restarts the heartbeat clock."""
        async with self._sessions.begin() as session:
            row = await self._lock(session, subscription_id, organisation)
            if row is None or row.status != SubscriptionStatus.OFF.value:
                return row
            await session.execute(
                update(d)
                .where(
                    d.c.subscription_id == subscription_id,
                    d.c.status == PENDING,
                    d.c.due_at == PARKED_UNTIL,
                )
                .values(due_at=now)
            )
            return await self._set_status(
                session, subscription_id, SubscriptionStatus.ACTIVE, last_notified_at=now
            )

    async def set_heartbeat(
        self, subscription_id: str, organisation: str, heartbeat_seconds: int | None
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(s)
                .where(s.c.subscription_id == subscription_id, s.c.requester_org == organisation)
                .values(heartbeat_seconds=heartbeat_seconds, updated_at=func.now())
            )

    async def queue_heartbeats(self, now: datetime, limit: int, heartbeat: Heartbeat) -> int:
        """A heartbeat for each active rest-hook whose period has passed with nothing queued
        for it; returns how many. Replicas sweep side by side: the rows are claimed with SKIP
        LOCKED, and a claim re-checks `last_notified_at` on the row's newest version, which
        the event numbering and every heartbeat update, so none is queued twice."""
        due = and_(
            s.c.status == SubscriptionStatus.ACTIVE.value,
            s.c.channel == Channel.REST_HOOK.value,
            s.c.heartbeat_seconds.is_not(None),
            s.c.last_notified_at
            <= bindparam("now", now, type_=s.c.last_notified_at.type)
            - s.c.heartbeat_seconds * text("interval '1 second'"),
        )
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(
                    select(s)
                    .where(due)
                    .order_by(s.c.last_notified_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            deliveries = []
            for row in rows:
                delivery_id = str(uuid.uuid4())
                deliveries.append(
                    {
                        "delivery_id": delivery_id,
                        "subscription_id": row.subscription_id,
                        "kind": "heartbeat",
                        "channel": Channel.REST_HOOK.value,
                        "body": dumps(heartbeat(row, delivery_id)),
                        "status": PENDING,
                    }
                )
            await session.execute(insert(d), deliveries)
            await session.execute(
                update(s)
                .where(s.c.subscription_id.in_([row.subscription_id for row in rows]))
                .values(last_notified_at=now)
            )
        return len(rows)

    async def _lock(self, session: AsyncSession, subscription_id: str, organisation: str) -> Any:
        # The row lock orders this change against the event numbering (notifying.py locks the
        # organisation's live subscriptions), so no event is numbered for an off subscription.
        return (
            await session.execute(
                select(s)
                .where(s.c.subscription_id == subscription_id, s.c.requester_org == organisation)
                .with_for_update()
            )
        ).first()

    async def _set_status(
        self, session: AsyncSession, subscription_id: str, status: SubscriptionStatus, **more: Any
    ) -> Any:
        return (
            await session.execute(
                update(s)
                .where(s.c.subscription_id == subscription_id)
                .values(status=status.value, updated_at=func.now(), **more)
                .returning(*s.c)
            )
        ).one()
