"""The history seeder (benchmarks/seed_history.py, issue 18 growth) writes, in every service's
tables, what referrals that flowed and closed leave behind, and nothing a running hub would
take for work to do: no open Task, nothing waiting, no pending delivery, no outbox row, no
subscription anyone would be called on. A second run continues after the first."""

from __future__ import annotations

import asyncpg
import pytest

from benchmarks.seed_history import SUBSCRIPTIONS, plain_dsn, seed
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

FIRST, MORE = 1_500, 1_000
PER_REFERRAL = {  # rows each historical referral leaves in each table
    "intake.referrals": 1,
    "router.tasks": 1,
    "router.decisions": 1,
    "router.sla_timers": 1,
    "router.processed_events": 1,
    "notifier.service_requests": 1,
    "notifier.person_records": 1,
    "notifier.tasks": 1,
    "notifier.task_history": 3,
    "notifier.processed_events": 3,
    "notifier.deliveries": 3,
}


async def test_history_is_recorded_everywhere_closed_and_continues_on_a_second_run(
    stack: IsolatedStack,
) -> None:
    first = await seed(stack.database_url, FIRST, show=False)
    second = await seed(stack.database_url, MORE, show=False)
    assert (first["recorded"], second["recorded"]) == (FIRST, FIRST + MORE)

    conn = await asyncpg.connect(plain_dsn(stack.database_url))
    try:
        total = FIRST + MORE
        for table, rows in PER_REFERRAL.items():
            assert await conn.fetchval(f"select count(*) from {table}") == rows * total, table
        # Ids run on from the first run: hist-0 .. hist-2499, each once.
        ids = await conn.fetch("select substr(referral_id, 6)::int as n from router.tasks")
        assert sorted(row["n"] for row in ids) == list(range(total))
        # Nothing a running hub would pick up as work.
        idle = {
            "open or waiting router Tasks": "select count(*) from router.tasks"
            " where status <> 'completed' or offer_expires_at is not null",
            "service-level timers still running": "select count(*) from router.sla_timers"
            " where closed_at is null or next_due_at is not null",
            "open notifier Tasks": "select count(*) from notifier.tasks where status <> 'completed'",
            "deliveries not delivered": "select count(*) from notifier.deliveries"
            " where status <> 'delivered' or delivered_at is null",
            "outbox rows": "select (select count(*) from intake.outbox)"
            " + (select count(*) from router.outbox) + (select count(*) from notifier.outbox)",
            "subscriptions that are on": "select count(*) from notifier.subscriptions"
            " where status <> 'off'",
        }
        for what, query in idle.items():
            assert await conn.fetchval(query) == 0, what
        assert await conn.fetchval("select count(*) from notifier.subscriptions") == SUBSCRIPTIONS
        # Each subscription's event numbers run without a repeat, as the notifier numbers them.
        assert (
            await conn.fetchval(
                "select count(*) from (select subscription_id, event_number from notifier.deliveries"
                " group by 1, 2 having count(*) > 1) repeated"
            )
            == 0
        )
        # The Task versions the notifier recorded run 1..3 under the current version 3.
        assert (
            await conn.fetchval(
                "select count(*) from notifier.tasks t where version <> ("
                " select max(version) from notifier.task_history h where h.referral_id = t.referral_id)"
            )
            == 0
        )
    finally:
        await conn.close()
