"""The delivery worker's statements read pending deliveries only, however many were delivered
before: PostgreSQL's generic plan (the one a prepared statement settles on) on 20,000 settled
deliveries and a few pending ones must not scan the table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.db import make_engine
from hub_notifier.adapters.delivery_store import (
    _CLAIM_DUE,
    _FOLLOWING,
    _LEASE_FOLLOWERS,
    _SETTLE,
    SENT_BY_WORKER,
)
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

SETTLED = 20_000
PENDING = 20
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "insert into notifier.deliveries (delivery_id, kind, channel, target,"
                " referral_id, body, status, due_at)"
                " select 'plan-' || g, 'email', 'email', 'referrer@example.org',"
                " 'referral-' || (g % 5000), ''::bytea,"
                " case when g > :settled then 'pending' else 'delivered' end,"
                " :due from generate_series(1, :rows) g"
            ),
            {"settled": SETTLED, "rows": SETTLED + PENDING, "due": NOW - timedelta(minutes=1)},
        )
        await conn.execute(text("analyze notifier.deliveries"))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(text("delete from notifier.deliveries where delivery_id like 'plan-%'"))
    await engine.dispose()


async def generic_plan(engine: AsyncEngine, statement: Any, params: dict[str, Any]) -> str:
    """EXPLAIN of the plan PostgreSQL reuses for every execution of the prepared statement,
    whatever its arguments (PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN)). `params` name every
    parameter; only the lengths of lists matter, as they set the number of placeholders."""
    compiled = statement.compile(dialect=asyncpg_dialect())
    expanded = compiled.construct_expanded_state(params, escape_names=False)
    nulls = ", ".join("NULL" for _ in expanded.positiontup)  # the plan is the same for any
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        await raw.execute(f"PREPARE probe AS {expanded.statement}")
        try:
            rows = await raw.fetch(f"EXPLAIN EXECUTE probe({nulls})")
        finally:
            await raw.execute("DEALLOCATE probe")
            await raw.execute("RESET plan_cache_mode")
    return "\n".join(row[0] for row in rows)


def assert_no_table_scan(plan: str) -> None:
    assert "Seq Scan on deliveries" not in plan, plan


async def test_a_claim_finds_due_deliveries_through_the_pending_indexes(
    engine: AsyncEngine,
) -> None:
    plan = await generic_plan(
        engine,
        _CLAIM_DUE,
        {
            "now": NOW,
            "lease_until": NOW + timedelta(seconds=30),
            "limit": 50,
            "channel_1": list(SENT_BY_WORKER),
        },
    )
    assert_no_table_scan(plan)
    assert "ix_deliveries_pending_due" in plan, plan


async def test_followers_leases_and_settles_stay_on_indexes(engine: AsyncEngine) -> None:
    following = await generic_plan(
        engine,
        _FOLLOWING,
        {"head_subscriptions": ["sub-1"], "head_seqs": [1], "followers": 10},
    )
    assert "ix_deliveries_pending_order" in following, following
    assert_no_table_scan(following)
    leased = {"now": NOW, "lease_until": NOW + timedelta(seconds=30), "seqs": [1, 2]}
    assert_no_table_scan(await generic_plan(engine, _LEASE_FOLLOWERS, leased))
    settled = {
        "by_seq": [1],
        "by_attempts": [1],
        "new_statuses": ["delivered"],
        "delivered_ats": [NOW],
        "new_errors": [None],
        "next_dues": [None],
    }
    assert_no_table_scan(await generic_plan(engine, _SETTLE, settled))
