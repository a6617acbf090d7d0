"""The delivery worker's statements read pending deliveries only, however many were delivered
before: PostgreSQL's generic plan (the one a prepared statement settles on) on 20,000 settled
deliveries and a few pending ones must not scan the table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_notifier.adapters.delivery_store import (
    _CLAIM_DUE,
    _FOLLOWING,
    _LEASE_FOLLOWERS,
    _NEXT_DUE,
    _SETTLE,
    SENT_BY_WORKER,
)
from tests.support.plans import explain, with_history
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

SETTLED = 20_000
PENDING = 20
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    async with with_history(
        stack,
        "notifier.deliveries",
        "delivery_id",
        (
            "insert into notifier.deliveries (delivery_id, kind, channel, target,"
            " referral_id, body, status, due_at)"
            " select 'plan-' || g, 'email', 'email', 'referrer@example.org',"
            " 'referral-' || (g % 5000), ''::bytea,"
            " case when g > :settled then 'pending' else 'delivered' end,"
            " :due from generate_series(1, :rows) g",
            {"settled": SETTLED, "rows": SETTLED + PENDING, "due": NOW - timedelta(minutes=1)},
        ),
    ) as engine:
        yield engine


def assert_no_table_scan(plan: str) -> None:
    assert "Seq Scan on deliveries" not in plan, plan


async def test_a_claim_finds_due_deliveries_through_the_pending_indexes(
    engine: AsyncEngine,
) -> None:
    plan = await explain(
        engine,
        _CLAIM_DUE,
        {
            "now": NOW,
            "lease_until": NOW + timedelta(seconds=30),
            "limit": 50,
            "channel_1": list(SENT_BY_WORKER),
        },
        generic=True,
    )
    assert_no_table_scan(plan)
    assert "ix_deliveries_pending_due" in plan, plan


async def test_followers_leases_and_settles_stay_on_indexes(engine: AsyncEngine) -> None:
    following = await explain(
        engine,
        _FOLLOWING,
        {"head_subscriptions": ["sub-1"], "head_seqs": [1], "followers": 10},
        generic=True,
    )
    assert "ix_deliveries_pending_order" in following, following
    assert_no_table_scan(following)
    leased = {"now": NOW, "lease_until": NOW + timedelta(seconds=30), "seqs": [1, 2]}
    assert_no_table_scan(await explain(engine, _LEASE_FOLLOWERS, leased, generic=True))
    settled = {
        "by_seq": [1],
        "by_attempts": [1],
        "new_statuses": ["delivered"],
        "delivered_ats": [NOW],
        "new_errors": [None],
        "next_dues": [None],
    }
    assert_no_table_scan(await explain(engine, _SETTLE, settled, generic=True))


async def test_the_idle_workers_look_ahead_reads_the_pending_index(engine: AsyncEngine) -> None:
    """The worker asks when the next delivery falls due each time it goes idle."""
    plan = await explain(
        engine, _NEXT_DUE, {"now": NOW, "channel_1": list(SENT_BY_WORKER)}, generic=True
    )
    assert_no_table_scan(plan)
    assert "ix_deliveries_pending_due" in plan, plan
