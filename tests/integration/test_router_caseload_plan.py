"""Counting caseloads stays the size of the caseloads as closed referrals pile up: PostgreSQL's
own plan, on 20,000 tasks of which one in twenty is open, reads the open ones only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.db import make_engine
from hub_router.adapters.task_repository import CASELOADS
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

ROWS = 20_000
OPEN_EVERY = 20  # one task in twenty still open: the rest completed over the years


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "insert into router.tasks (referral_id, episode_id, owner, status,"
                " business_status, version, facts, task)"
                " select 'plan-' || g, 'episode-' || g, 'lw-' || (g % 24),"
                " case when g % :open_every = 0 then 'in-progress' else 'completed' end,"
                " 'allocated', 1, '{}'::jsonb, '{}'::jsonb"
                " from generate_series(1, :rows) g"
            ),
            {"rows": ROWS, "open_every": OPEN_EVERY},
        )
        await conn.execute(text("analyze router.tasks"))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(text("delete from router.tasks where referral_id like 'plan-%'"))
    await engine.dispose()


async def test_caseloads_are_counted_from_the_open_tasks_alone(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        statement = CASELOADS.compile(dialect=asyncpg_dialect()).string
        rows = await raw.driver_connection.fetch(f"EXPLAIN (ANALYZE) {statement}")  # type: ignore[union-attr]
        counts = dict((await conn.execute(CASELOADS)).all())
    shown = "\n".join(row[0] for row in rows)
    assert "ix_tasks_open_caseload" in shown, shown
    assert "Seq Scan" not in shown and "Rows Removed by Filter" not in shown, shown
    assert sum(counts.values()) == ROWS // OPEN_EVERY
