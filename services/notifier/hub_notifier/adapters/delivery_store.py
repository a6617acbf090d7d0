"""Deliveries in PostgreSQL: claim the due ones, record how each attempt went.

Claiming takes a lease rather than holding a transaction open during the HTTP call: the row's
`due_at` moves past the longest possible attempt, so a replica that dies mid-send simply lets
the lease run out and the delivery goes again, same body, same event number, same
Idempotency-Key. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so replicas never wait on each
other, and a delivery is claimable only when no earlier delivery of the same subscription is
still pending: each subscription receives its events strictly in number order, while a dead or
slow endpoint holds back nobody but its own subscription.

A claimed event notification takes the subscription's next pending event notifications with
it (up to `max_events_per_notification` in all): they go in one request (domain/coalescing.py)
and are settled together, so a backlog drains in a few round trips instead of one per event.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub_common.storage.db import array_parameter
from hub_notifier.adapters import orm
from hub_notifier.adapters.attempt import Attempt
from hub_notifier.domain.notification import NotificationType
from hub_notifier.domain.retry import RetryPolicy
from hub_notifier.domain.subscription import SubscriptionStatus

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SENT_BY_WORKER = ("rest-hook", "email")  # Kafka deliveries go through the outbox instead
# Written out, not bound: the pending-only partial indexes (orm.py) serve a prepared statement's
# generic plan only when PostgreSQL can read in the statement itself that the rows are pending.
# Bound, a generic claim scanned every delivery ever made (155 ms at 400,000), so PostgreSQL
# planned each claim afresh instead (1.3 ms of planning a claim) to keep the custom plan.
IS_PENDING = literal_column(f"'{PENDING}'", String)
EVENT_NOTIFICATION = NotificationType.EVENT_NOTIFICATION.value
OFF = SubscriptionStatus.OFF.value
PARKED_UNTIL = datetime(9999, 12, 31, tzinfo=UTC)
"""The due time of a turned-off subscription's pending deliveries: never, until turned on."""

d = orm.deliveries
s = orm.subscriptions
CLAIMED = (
    d.c.seq,
    d.c.delivery_id,
    d.c.subscription_id,
    d.c.kind,
    d.c.channel,
    d.c.target,
    d.c.body,
    d.c.attempts,
    d.c.first_attempt_at,
    d.c.traceparent,
)
"""What a claim returns of each delivery it leased."""


@dataclass(frozen=True)
class Claimed:
    """A delivery this replica holds the lease of, with what it takes to send it."""

    seq: int
    delivery_id: str
    subscription_id: str | None
    kind: str
    channel: str
    target: str | None
    body: bytes
    attempts: int
    first_attempt_at: datetime
    endpoint: str | None = None
    headers: tuple[str, ...] = ()
    secret: str = ""
    previous_secret: str | None = None  # during a rotation's grace period only
    # The subscription's next event notifications, sent in the same request as this one.
    coalesced: tuple[Claimed, ...] = ()
    traceparent: str | None = None  # the change's trace, which the request continues

    @property
    def members(self) -> tuple[Claimed, ...]:
        """Every delivery the request carries, in order."""
        return (self, *self.coalesced)


class DeliveryStore:
    """Claims and settles deliveries; every method is its own short transaction."""

    def __init__(
        self,
        engine: AsyncEngine,
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime],
        draw: Callable[[], float] = random.random,
        max_events_per_notification: int = 1,
    ) -> None:
        self._engine = engine
        self._policy = policy
        self._clock = clock
        self._draw = draw
        self._max_events = max(1, max_events_per_notification)

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        if limit <= 0:
            return []
        now = self._clock()
        leased = {"now": now, "lease_until": now + lease}
        async with self._engine.begin() as conn:
            rows = (await conn.execute(_CLAIM_DUE, {**leased, "limit": limit})).all()
            followers = await self._claim_followers(conn, rows, leased)
            ids = sorted({row.subscription_id for row in rows if row.subscription_id})
            subscriptions = (
                {row.subscription_id: row for row in await conn.execute(_ENDPOINTS, {"ids": ids})}
                if ids
                else {}
            )
            off = [
                seq
                for row in rows
                if (sub := subscriptions.get(row.subscription_id)) is not None and sub.status == OFF
                for seq in (row.seq, *(f.seq for f in followers.get(row.seq, ())))
            ]
            if off:
                # Turned off since they were queued (or while in flight): parked, not sent,
                # until the subscription is turned on again (subscription_store.py).
                await conn.execute(_PARK, {"seqs": off})
        claimed = []
        for row in rows:
            sub = subscriptions.get(row.subscription_id)
            if sub is not None and sub.status == OFF:
                continue
            claimed.append(
                _claimed(
                    row,
                    endpoint=sub.endpoint if sub else None,
                    headers=tuple(sub.headers or ()) if sub else (),
                    secret=sub.secret if sub else "",
                    previous_secret=_previous_secret(sub, now),
                    coalesced=tuple(_claimed(f) for f in followers.get(row.seq, ())),
                )
            )
        return claimed

    async def next_due_in(self) -> timedelta | None:
        """How long until the next pending delivery falls due (a retry after its backoff, a
        lease running out), None when none is waiting: how long the idle worker may sleep.

        Only deliveries due later count: one due already but held back behind an earlier one
        of its stream goes when that one settles (the settling worker claims again at once),
        and counting it would have an idle worker claim in a loop."""
        now = self._clock()
        async with self._engine.connect() as conn:
            # One statement, no BEGIN and ROLLBACK around it.
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            due_at = await conn.scalar(_NEXT_DUE, {"now": now})
        return None if due_at is None else due_at - now

    async def _claim_followers(
        self, conn: AsyncConnection, heads: Sequence[Any], leased: dict[str, Any]
    ) -> dict[int, list[Any]]:
        """Lease, with each claimed rest-hook event notification, the next pending deliveries
        of its subscription while they are event notifications too (a handshake ends the run),
        up to the maximum in all; by the head's seq, in order.

        Nobody else can take them: a delivery with an earlier one pending (the head, leased
        by this transaction) is never claimed, and the head's lease covers theirs."""
        eligible = [
            (row.subscription_id, row.seq)
            for row in heads
            if row.kind == EVENT_NOTIFICATION and row.channel == "rest-hook"
        ]
        if self._max_events <= 1 or not eligible:
            return {}
        head_of: dict[int, int] = {}
        runs_open: dict[int, bool] = {}
        for row in await conn.execute(
            _FOLLOWING,
            {
                "head_subscriptions": [subscription for subscription, _ in eligible],
                "head_seqs": [seq for _, seq in eligible],
                "followers": self._max_events - 1,
            },
        ):
            if runs_open.setdefault(row.head_seq, True) and row.kind == EVENT_NOTIFICATION:
                head_of[row.seq] = row.head_seq
            else:
                runs_open[row.head_seq] = False
        if not head_of:
            return {}
        taken = await conn.execute(_LEASE_FOLLOWERS, {**leased, "seqs": sorted(head_of)})
        followers: dict[int, list[Any]] = {}
        for row in sorted(taken, key=lambda row: row.seq):
            followers.setdefault(head_of[row.seq], []).append(row)
        return followers

    async def settle(self, delivery: Claimed, attempt: Attempt) -> str:
        """Record an attempt; returns the delivery's new status."""
        [status] = await self.settle_many([(delivery, attempt)])
        return status

    async def settle_many(self, attempts: Sequence[tuple[Claimed, Attempt]]) -> list[str]:
        """Record several attempts in one transaction; returns each delivery's new status.

        One statement per kind of change, each covering the batch. A subscription appears at
        most once in it: only one of its requests is ever in flight. A coalesced request's
        deliveries share its outcome, each by its own count and window: a failure leaves them
        pending together (or dead-letters those whose window is over).
        """
        now = self._clock()
        rows: list[dict[str, Any]] = []
        answered: list[str] = []  # subscriptions whose endpoint answered
        failing: list[str] = []
        statuses: list[str] = []
        for delivery, attempt in attempts:
            for member in delivery.members:
                if attempt.ok:
                    status, error, due = DELIVERED, None, None
                else:
                    due = self._policy.next_attempt(
                        member.attempts, member.first_attempt_at, now, self._draw()
                    )
                    status, error = (DEAD if due is None else PENDING), (attempt.error or "failed")
                rows.append(
                    {
                        "seq": member.seq,
                        "attempts": member.attempts,
                        "status": status,
                        "delivered": now if attempt.ok else None,
                        "error": error[:200] if error else None,
                        "due": due,
                    }
                )
                if member is delivery:
                    statuses.append(status)
            if delivery.subscription_id:
                (answered if attempt.ok else failing).append(delivery.subscription_id)
        async with self._engine.begin() as conn:
            await conn.execute(
                _SETTLE,
                {
                    "by_seq": [row["seq"] for row in rows],
                    "by_attempts": [row["attempts"] for row in rows],
                    "new_statuses": [row["status"] for row in rows],
                    "delivered_ats": [row["delivered"] for row in rows],
                    "new_errors": [row["error"] for row in rows],
                    "next_dues": [row["due"] for row in rows],
                },
            )
            # The Backport's status: `error` while its endpoint fails, `active` once it answers.
            for ids, to, from_ in (
                (
                    answered,
                    SubscriptionStatus.ACTIVE,
                    (SubscriptionStatus.REQUESTED, SubscriptionStatus.ERROR),
                ),
                (
                    failing,
                    SubscriptionStatus.ERROR,
                    (SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE),
                ),
            ):
                if ids:
                    # Rows locked in subscription id order, as `announce_all` locks them, so
                    # the two never deadlock; only subscriptions changing status are locked.
                    changing = (
                        select(s.c.subscription_id)
                        .where(
                            s.c.subscription_id == any_(array_parameter("ids")),
                            s.c.status.in_([f.value for f in from_]),
                        )
                        .order_by(s.c.subscription_id)
                        .with_for_update()
                    )
                    await conn.execute(
                        update(s)
                        .where(s.c.subscription_id.in_(changing))
                        .values(status=to.value, updated_at=now),
                        {"ids": sorted(set(ids))},
                    )
        return statuses


def _claimed(row: Any, **subscription: Any) -> Claimed:
    return Claimed(
        seq=row.seq,
        delivery_id=row.delivery_id,
        subscription_id=row.subscription_id,
        kind=row.kind,
        channel=row.channel,
        target=row.target,
        body=row.body,
        attempts=row.attempts,
        first_attempt_at=row.first_attempt_at,
        traceparent=row.traceparent,
        **subscription,
    )


# The statements below are built once: building them per call cost the delivery worker more
# CPU than PostgreSQL took to run them (py-spy, at a steady 200 referrals/s). Lists travel as
# arrays, so each is one prepared statement whatever the number of rows. (An UPDATE's own
# column names cannot name its parameters, hence `by_seq`, `new_statuses` and so on.)


def _claim_due() -> Any:
    # One in flight per stream, in order: a subscription's deliveries, or the e-mails about
    # one referral to one address (they have no subscription; without this a referrer could
    # read "completed" before "in progress"). Other referrals' e-mails do not wait behind them.
    # Two NOT EXISTS rather than one with an OR, each answerable from its own partial index:
    # with the OR, claims took a fifth of PostgreSQL's execution time in the benchmark
    # (pg_stat_statements: 2.5 of 11.4 s), split a twenty-fifth (0.4 of 9.7 s). A NULL
    # subscription id matches nothing in the first.
    same_subscription = d.alias("earlier")
    earlier_in_subscription = (
        select(same_subscription.c.seq)
        .where(
            same_subscription.c.subscription_id == d.c.subscription_id,
            same_subscription.c.status == IS_PENDING,
            same_subscription.c.seq < d.c.seq,
        )
        .exists()
    )
    same_referral = d.alias("earlier_email")
    earlier_email = (
        select(same_referral.c.seq)
        .where(
            d.c.subscription_id.is_(None),
            same_referral.c.subscription_id.is_(None),
            same_referral.c.referral_id == d.c.referral_id,
            same_referral.c.channel == d.c.channel,
            same_referral.c.target == d.c.target,
            same_referral.c.status == IS_PENDING,
            same_referral.c.seq < d.c.seq,
        )
        .exists()
    )
    due = (
        select(d.c.seq)
        .where(
            d.c.status == IS_PENDING,
            d.c.due_at <= bindparam("now"),
            d.c.channel.in_(SENT_BY_WORKER),
            ~earlier_in_subscription,
            ~earlier_email,
        )
        .order_by(d.c.due_at, d.c.seq)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=d)
        .cte("due")
    )
    return update(d).where(d.c.seq == due.c.seq).values(_LEASED).returning(*CLAIMED)


_LEASED = {
    "due_at": bindparam("lease_until", type_=d.c.due_at.type),
    "attempts": d.c.attempts + 1,
    "first_attempt_at": func.coalesce(
        d.c.first_attempt_at, bindparam("now", type_=d.c.due_at.type)
    ),
    "last_attempt_at": bindparam("now", type_=d.c.due_at.type),
}
_CLAIM_DUE = _claim_due()
_NEXT_DUE = select(func.min(d.c.due_at)).where(
    d.c.status == IS_PENDING,  # written out: ix_deliveries_pending_due serves it
    d.c.due_at > bindparam("now", type_=d.c.due_at.type),
    d.c.channel.in_(SENT_BY_WORKER),
)
_PARK = (
    update(d)
    .where(d.c.seq == any_(array_parameter("seqs", BigInteger)))
    .values(due_at=PARKED_UNTIL)
)

_ENDPOINTS = select(
    s.c.subscription_id,
    s.c.endpoint,
    s.c.headers,
    s.c.secret,
    s.c.previous_secret,
    s.c.previous_secret_until,
    s.c.status,
).where(s.c.subscription_id == any_(array_parameter("ids")))


def _previous_secret(subscription: Any, now: datetime) -> str | None:
    """The rotated-out secret while its grace period lasts, else None."""
    if subscription is None or subscription.previous_secret is None:
        return None
    until = subscription.previous_secret_until
    return subscription.previous_secret if until is not None and until > now else None


def _following() -> Any:
    head = (
        func.unnest(array_parameter("head_subscriptions"), array_parameter("head_seqs", BigInteger))
        .table_valued("subscription_id", "head_seq")
        .render_derived("head")
    )
    following = (
        select(d.c.seq, d.c.kind)
        .where(
            d.c.subscription_id == head.c.subscription_id,
            d.c.status == IS_PENDING,
            d.c.seq > head.c.head_seq,
        )
        .order_by(d.c.seq)
        .limit(bindparam("followers", type_=Integer))
        .lateral("following")
    )
    return (
        select(head.c.head_seq, following.c.seq, following.c.kind)
        .select_from(head.join(following, true()))
        .order_by(head.c.head_seq, following.c.seq)
    )


_FOLLOWING = _following()

_LEASE_FOLLOWERS = (
    update(d)
    .where(d.c.seq == any_(array_parameter("seqs", BigInteger)), d.c.status == IS_PENDING)
    .values(_LEASED)
    .returning(*CLAIMED)
)


def _settle() -> Any:
    outcome = (
        func.unnest(
            array_parameter("by_seq", BigInteger),
            array_parameter("by_attempts", Integer),
            array_parameter("new_statuses"),
            array_parameter("delivered_ats", DateTime(timezone=True)),
            array_parameter("new_errors"),
            array_parameter("next_dues", DateTime(timezone=True)),
        )
        .table_valued("seq", "attempts", "status", "delivered_at", "last_error", "due_at")
        .render_derived("outcome")
    )
    # Matching the attempt count ignores a late answer to a lease that ran out and was claimed
    # again by another replica: that replica settles it now.
    return (
        update(d)
        .where(
            d.c.seq == outcome.c.seq,
            d.c.status == IS_PENDING,
            d.c.attempts == outcome.c.attempts,
        )
        .values(
            status=outcome.c.status,
            delivered_at=outcome.c.delivered_at,
            last_error=outcome.c.last_error,
            # A failure's next attempt; a success keeps its (now irrelevant) due time.
            due_at=func.coalesce(outcome.c.due_at, d.c.due_at),
        )
    )


_SETTLE = _settle()
