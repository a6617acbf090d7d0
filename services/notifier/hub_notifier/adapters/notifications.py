"""What announcing a change reads and writes: the live subscriptions of the organisations it
concerns (locked, for gap-free event numbers), their counters, and the delivery rows.

A repository over the use case's session (`service_layer/unit_of_work.py`). Each method takes
the whole batch of changes' organisations or rows: one statement each, whatever the count.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, DateTime, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.storage.batch_insert import BatchTable, insert_batch
from hub_common.storage.db import array_parameter
from hub_notifier.adapters import orm
from hub_notifier.domain.subscription import LIVE

s = orm.subscriptions


def _live_of(organisations: Collection[str]) -> tuple[ColumnElement[bool], ...]:
    """The organisations' live subscriptions: what numbers events (`lock_live`) and what says
    whether an organisation hears by webhook rather than e-mail (`subscribed`) must agree."""
    return (
        s.c.requester_org.in_(sorted(organisations)),
        s.c.status.in_([status.value for status in LIVE]),
    )


DELIVERY_ROW: dict[str, Any] = {
    "subscription_id": None,
    "referral_id": None,
    "event_number": None,
    "target": None,
    "delivered_at": None,
    "last_error": None,
    "traceparent": None,
}
"""The columns a delivery row may leave out, so rows of every kind share one INSERT."""

# One statement per batch for each (an executemany cost PostgreSQL one statement per row).
NEW_DELIVERIES = BatchTable(
    orm.deliveries,
    (
        "delivery_id",
        "subscription_id",
        "event_number",
        "kind",
        "channel",
        "target",
        "referral_id",
        "body",
        "status",
        "last_error",
        "delivered_at",
        "traceparent",
    ),
)
_COUNTERS = (
    func.unnest(array_parameter("ids"), array_parameter("counters", BigInteger))
    .table_valued("subscription_id", "counter")
    .render_derived("counted")
)
COUNT_EVENTS = (
    update(orm.subscriptions)
    .where(orm.subscriptions.c.subscription_id == _COUNTERS.c.subscription_id)
    .values(
        events_since_start=_COUNTERS.c.counter,
        last_notified_at=bindparam("at", type_=DateTime(timezone=True)),
    )
)


@dataclass(frozen=True)
class LiveSubscription:
    """A subscription that hears of changes, with its event counter as read under its lock."""

    subscription_id: str
    requester_org: str
    channel: str
    status: str
    events_since_start: int


class Notifications:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_live(self, organisations: Collection[str]) -> list[LiveSubscription]:
        """The live subscriptions of these organisations, locked in a fixed order (so two
        transactions touching one organisation never deadlock; the lock is what makes the
        numbering gap-free: domain/subscription.py)."""
        if not organisations:
            return []
        rows = await self._session.execute(
            select(
                s.c.subscription_id,
                s.c.requester_org,
                s.c.channel,
                s.c.status,
                s.c.events_since_start,
            )
            .where(*_live_of(organisations))
            .order_by(s.c.subscription_id)
            .with_for_update()
        )
        return [LiveSubscription(*row) for row in rows]

    async def subscribed(self, organisations: Collection[str]) -> set[str]:
        """Which of these organisations have a live subscription (no lock: nothing numbered)."""
        if not organisations:
            return set()
        return set(
            await self._session.scalars(
                select(s.c.requester_org).where(*_live_of(organisations)).distinct()
            )
        )

    async def count_events(self, counters: dict[str, int], at: datetime) -> None:
        """Each subscription's new event counter; `last_notified_at` restarts its heartbeat
        clock (subscription_store.py)."""
        if counters:
            await self._session.execute(
                COUNT_EVENTS,
                {"ids": list(counters), "counters": list(counters.values()), "at": at},
            )

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        """Delivery rows of every kind, in one statement, in order (`seq` follows the
        order, which is the order each subscription must receive them)."""
        await insert_batch(
            self._session, [(NEW_DELIVERIES, [{**DELIVERY_ROW, **row} for row in rows])]
        )
