"""A batch's look-ups stay index look-ups as the referrals table grows: PostgreSQL's own plan,
on a table of 20,000 referrals, must not scan it whole."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_intake.adapters.known_referrals import FIRST_EPISODES, RECORDED
from tests.support.plans import explain, with_history
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

ROWS = 20_000
FREQUENT = "f" * 32  # a person key
FREQUENT_REFERRALS = 2_000


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    async with with_history(
        stack,
        "intake.referrals",
        "referral_id",
        (
            "insert into intake.referrals (referral_id, source, referrer_reference,"
            " episode_id, person_key, service_request)"
            " select 'plan-' || g, (array['fhir','police','fire','housing','community'])"
            "[1 + g % 5], 'REF-' || g, 'episode-' || g, md5(g::text), '{}'::jsonb"
            " from generate_series(1, :rows) g",
            {"rows": ROWS},
        ),
        # One person referred again and again over the years: their first episode must not
        # cost a read of all their referrals.
        (
            "insert into intake.referrals (referral_id, source, referrer_reference,"
            " episode_id, person_key, received_at, service_request)"
            " select 'plan-frequent-' || g, 'community', 'REF-FREQUENT-' || g,"
            " 'episode-frequent-' || g, :frequent,"
            " timestamptz '2020-01-01' + g * interval '1 day', '{}'::jsonb"
            " from generate_series(1, :rows) g",
            {"rows": FREQUENT_REFERRALS, "frequent": FREQUENT},
        ),
    ) as engine:
        yield engine


async def test_known_references_are_found_through_the_unique_index(engine: AsyncEngine) -> None:
    shown = await explain(
        engine, RECORDED, {"sources": ["police", "fire"], "references": ["REF-1", "REF-2"]}
    )
    assert "Seq Scan on referrals" not in shown, shown
    assert "uq_referrals_source_reference" in shown, shown


async def test_a_first_episode_is_one_index_probe_however_many_referrals_came_after(
    engine: AsyncEngine,
) -> None:
    keys = {"keys": [FREQUENT, "a" * 32]}
    shown = await explain(engine, FIRST_EPISODES, keys, analyze=True)
    assert "Seq Scan on referrals" not in shown, shown
    # Each person's index scan stops at their first referral: not all 2,000 read and sorted.
    scans = [line for line in shown.splitlines() if "using ix_referrals_person_received" in line]
    assert scans, shown
    assert all(int(re.search(r"actual time=\S+ rows=(\d+)", s)[1]) <= 1 for s in scans), shown
    async with engine.connect() as conn:
        found = dict((await conn.execute(FIRST_EPISODES, keys)).all())
    assert found == {FREQUENT: "episode-frequent-1"}
