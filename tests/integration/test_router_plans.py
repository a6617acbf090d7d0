"""The router's look-ups stay the size of the open work as closed referrals pile up:
PostgreSQL's own plan, on 20,000 tasks of which one in twenty is open and a few wait for a
coordinator, reads those only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_router.adapters.sla_clock import due
from hub_router.adapters.task_repository import CASELOADS, WAITING
from hub_router.domain.access import Viewer
from hub_router.service_layer.views import search_query
from tests.support.plans import explain, with_history
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

ROWS = 20_000
OPEN_EVERY = 20  # one task in twenty still open: the rest completed over the years
WAITING_EVERY = 500  # and a few waiting for a coordinator, with no owner


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    async with with_history(
        stack,
        "router.tasks",
        "referral_id",
        (
            "insert into router.tasks (referral_id, episode_id, owner, status,"
            " business_status, version, facts, task, updated_at)"
            " select 'plan-' || g, 'episode-' || g,"
            " case when g % :waiting_every = 1 then null else 'lw-' || (g % 24) end,"
            " case when g % :waiting_every = 1 then 'requested'"
            " when g % :open_every = 0 then 'in-progress' else 'completed' end,"
            " case when g % :waiting_every = 1 then 'awaiting-allocation'"
            " else 'allocated' end,"
            ' 1, \'{"route": {"borough": "Croydon"}}\'::jsonb, \'{}\'::jsonb,'
            " timestamptz '2024-01-01' + g * interval '1 hour'"
            " from generate_series(1, :rows) g",
            {"rows": ROWS, "open_every": OPEN_EVERY, "waiting_every": WAITING_EVERY},
        ),
    ) as engine:
        yield engine


async def test_caseloads_are_counted_from_the_open_tasks_alone(engine: AsyncEngine) -> None:
    shown = await explain(engine, CASELOADS, analyze=True)
    async with engine.connect() as conn:
        counts = dict((await conn.execute(CASELOADS)).all())
    assert "ix_tasks_open_caseload" in shown, shown
    assert "Seq Scan" not in shown and "Rows Removed by Filter" not in shown, shown
    # Waiting referrals (one in 500, none of them a multiple of 20) have no owner.
    assert sum(counts.values()) == ROWS // OPEN_EVERY


async def test_the_waiting_list_is_read_from_the_waiting_referrals_alone(
    engine: AsyncEngine,
) -> None:
    oldest_first = WAITING.limit(10)
    shown = await explain(engine, oldest_first, analyze=True)
    assert "ix_tasks_awaiting_allocation" in shown, shown
    assert "Seq Scan" not in shown and "Sort" not in shown, shown
    async with engine.connect() as conn:
        waiting = (await conn.execute(WAITING)).all()
    assert len(waiting) == ROWS // WAITING_EVERY


@pytest.mark.parametrize(
    "viewer",
    [Viewer(worker_id="lw-3"), Viewer(boroughs=frozenset({"Croydon"}))],
    ids=["a worker", "a coordinator"],
)
async def test_task_lists_are_read_newest_first_and_stop_at_the_page(
    engine: AsyncEngine, viewer: Viewer
) -> None:
    # Which of the two indexes serves a worker is PostgreSQL's choice (by how many workers
    # share the table); either way, no sort of every task in scope, and the read stops early.
    shown = await explain(engine, search_query(viewer, limit=20), analyze=True)
    assert "Index Scan Backward using ix_tasks_" in shown, shown
    assert "Sort" not in shown and "Seq Scan" not in shown, shown
    removed = re.search(r"Rows Removed by Filter: (\d+)", shown)
    assert removed is None or int(removed[1]) < ROWS // 10, shown


@pytest.fixture
async def timers(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    # Accepted referrals over the years: most closed (no deadline left), one in twenty open
    # with a deadline ahead, and a few of those past it.
    async with with_history(
        stack,
        "router.sla_timers",
        "referral_id",
        (
            "insert into router.sla_timers"
            " (referral_id, borough, accepted_at, closed_at, next_due_at)"
            " select 'plan-' || g, 'Croydon', timestamptz '2024-01-01' + g * interval '1 hour',"
            " case when g % :open_every = 0 then null"
            " else timestamptz '2024-02-01' + g * interval '1 hour' end,"
            " case when g % :open_every <> 0 then null"
            " when g % :late_every = 0 then timestamptz '2020-01-01' + g * interval '1 hour'"
            " else timestamptz '2099-01-01' end"
            " from generate_series(1, :rows) g",
            {"rows": ROWS, "open_every": OPEN_EVERY, "late_every": OPEN_EVERY * 10},
        ),
    ) as engine:
        yield engine


async def test_the_service_level_sweep_reads_only_timers_with_a_deadline(
    timers: AsyncEngine,
) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    shown = await explain(timers, due(now, 100), analyze=True)
    assert "ix_sla_timers_next_due" in shown, shown
    assert "Seq Scan" not in shown and "Sort" not in shown, shown
    async with timers.connect() as conn:
        late = (await conn.execute(due(now, 1000))).all()
    assert len(late) == ROWS // (OPEN_EVERY * 10)
