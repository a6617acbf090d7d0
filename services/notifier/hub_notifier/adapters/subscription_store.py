"""The subscriptions table as a repository over the use case's session: creating one, finding
it, locking it for a change of status, its secret and heartbeat, the heartbeats due, and the
deliveries in trouble that `$status` reports. The use case (`service_layer/subscribing.py`)
decides; each method here is one statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, PARKED_UNTIL, PENDING
from hub_notifier.domain.subscription import Channel, SubscriptionStatus

s = orm.subscriptions
d = orm.deliveries


class Subscriptions:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, **values: Any) -> None:
        await self._session.execute(insert(s).values(**values))

    async def find(self, subscription_id: str, organisation: str) -> Any | None:
        """The subscription, or None when it is unknown or another organisation's."""
        return (
            await self._session.execute(
                select(s).where(
                    s.c.subscription_id == subscription_id, s.c.requester_org == organisation
                )
            )
        ).first()

    async def organisation_of(self, subscription_id: str | None) -> str | None:
        """Whose subscription it is; None when there is no such one."""
        if subscription_id is None:
            return None
        return await self._session.scalar(
            select(s.c.requester_org).where(s.c.subscription_id == subscription_id)
        )

    async def lock(self, subscription_id: str, organisation: str) -> Any | None:
        """`find`, holding the row's lock: it orders a change of status against the event
        numbering (notifications.py locks the organisation's live subscriptions), so no event
        is numbered for an off subscription."""
        return (
            await self._session.execute(
                select(s)
                .where(s.c.subscription_id == subscription_id, s.c.requester_org == organisation)
                .with_for_update()
            )
        ).first()

    async def set_status(
        self, subscription_id: str, status: SubscriptionStatus, **more: Any
    ) -> Any:
        return (
            await self._session.execute(
                update(s)
                .where(s.c.subscription_id == subscription_id)
                .values(status=status.value, updated_at=func.now(), **more)
                .returning(*s.c)
            )
        ).one()

    async def rotate_secret(
        self, subscription_id: str, organisation: str, new_secret: str, grace_until: datetime
    ) -> Any | None:
        """The current secret becomes the previous one (signing until `grace_until`) and
        `new_secret` the current one. A second rotation within the grace period drops the
        oldest: two secrets at most sign a request. None when unknown or another's."""
        return (
            await self._session.execute(
                update(s)
                .where(s.c.subscription_id == subscription_id, s.c.requester_org == organisation)
                .values(
                    previous_secret=s.c.secret,
                    previous_secret_until=grace_until,
                    secret=new_secret,
                    updated_at=func.now(),
                )
                .returning(*s.c)
            )
        ).first()

    async def set_heartbeat(
        self, subscription_id: str, organisation: str, heartbeat_seconds: int | None
    ) -> None:
        await self._session.execute(
            update(s)
            .where(s.c.subscription_id == subscription_id, s.c.requester_org == organisation)
            .values(heartbeat_seconds=heartbeat_seconds, updated_at=func.now())
        )

    async def park_pending(self, subscription_id: str) -> None:
        """Its pending deliveries wait until it is turned on again (the delivery worker parks
        any it meets later, e.g. one in flight that fails)."""
        await self._session.execute(
            update(d)
            .where(d.c.subscription_id == subscription_id, d.c.status == PENDING)
            .values(due_at=PARKED_UNTIL)
        )

    async def unpark(self, subscription_id: str, now: datetime) -> None:
        """Its parked deliveries are due `now`, in their order."""
        await self._session.execute(
            update(d)
            .where(
                d.c.subscription_id == subscription_id,
                d.c.status == PENDING,
                d.c.due_at == PARKED_UNTIL,
            )
            .values(due_at=now)
        )

    async def claim_quiet(self, now: datetime, limit: int) -> list[Any]:
        """The active rest-hooks whose heartbeat period has passed with nothing queued for
        them. Replicas sweep side by side: the rows are claimed with SKIP LOCKED, and a claim
        re-checks `last_notified_at` on the row's newest version, which the event numbering
        and every heartbeat update, so none is queued twice."""
        due = and_(
            s.c.status == SubscriptionStatus.ACTIVE.value,
            s.c.channel == Channel.REST_HOOK.value,
            s.c.heartbeat_seconds.is_not(None),
            s.c.last_notified_at
            <= bindparam("now", now, type_=s.c.last_notified_at.type)
            - s.c.heartbeat_seconds * text("interval '1 second'"),
        )
        return list(
            (
                await self._session.execute(
                    select(s)
                    .where(due)
                    .order_by(s.c.last_notified_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )

    async def notified(self, subscription_ids: Sequence[str], at: datetime) -> None:
        """Something was queued for these at `at`: their heartbeat clocks restart."""
        if subscription_ids:
            await self._session.execute(
                update(s)
                .where(s.c.subscription_id.in_(list(subscription_ids)))
                .values(last_notified_at=at)
            )

    async def troubled(self, subscription_id: str, limit: int = 100) -> list[Any]:
        """Its dead deliveries and those being retried, in order."""
        return list(
            (
                await self._session.execute(
                    select(d.c.kind, d.c.event_number, d.c.status, d.c.attempts, d.c.last_error)
                    .where(
                        d.c.subscription_id == subscription_id,
                        (d.c.status == DEAD)
                        | ((d.c.status == PENDING) & d.c.last_error.is_not(None)),
                    )
                    .order_by(d.c.seq)
                    .limit(limit)
                )
            ).all()
        )
