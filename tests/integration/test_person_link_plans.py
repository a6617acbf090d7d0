"""Person linking stays a few index reads however long the history: PostgreSQL's own plans.

A new person's candidates, on a history where fifty people share each birth date (a million
referrals make about 35), are kept or dropped from ix_person_records_born alone, and are
exactly the referrals `may_match` would compare. The open-episode check walks from each
referral's own person, never through every Task its organisation ever had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub_notifier.adapters.person_links import (
    CANDIDATE_PEOPLE,
    HEARD_IN_OPEN_EPISODE,
    accepted_in_open_episode,
    candidate_keys,
)
from hub_notifier.domain.message_back import CONTACT_STEPS
from hub_notifier.domain.person_match import Demographics
from tests.support.plans import explain, with_history
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

ROWS = 5_000
DAYS = 100  # fifty people a birth date
CROWDED = date(1950, 1, 1)  # the first of them
NEW = Demographics(
    birth_date=CROWDED, family="quill", given=("zara",), postcode="CR78RS", phone="07700900789"
)
# Born on the crowded day too, each sharing one more field with NEW, or none.
SAME_DAY = {
    "plan-initial": ("qadir", "", "SW11AA", "07700111111"),
    "plan-postcode": ("smith", "", "CR78RS", "07700222222"),
    "plan-phone": ("smith", "", "SM11AA", "07700900789"),
    "plan-nhs": ("quinn", "9434765919", "SM11AA", "07700333333"),
    "plan-stranger": ("smith", "", "SM11AA", "07700444444"),
}


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    person = (
        "insert into notifier.person_records (referral_id, person_id, link_basis, nhs_number,"
        " birth_date, family, given, postcode, phone)"
    )
    fills = [
        (
            f"{person} select 'plan-' || g, 'plan-' || g, 'self', lpad(g::text, 10, '0'),"
            " cast(:first as date) + g % :days, 'historical' || g % 997, array['seeded'], 'SW' || g % 20 || 'AA',"
            " '07700' || lpad(g::text, 6, '0') from generate_series(1, :rows) g",
            {"rows": ROWS, "days": DAYS, "first": CROWDED},
        ),
        *(
            (
                f"{person} values (:id, :id, 'self', nullif(:nhs, ''), cast(:born as date), :family,"
                " array['mary'], :postcode, :phone)",
                {"id": rid, "nhs": nhs, "born": CROWDED, "family": family}
                | {"postcode": postcode, "phone": phone},
            )
            for rid, (family, nhs, postcode, phone) in SAME_DAY.items()
        ),
    ]
    async with with_history(stack, "notifier.person_records", "referral_id", *fills) as engine:
        async with engine.connect() as conn:  # the visibility map, as autovacuum keeps it
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("vacuum notifier.person_records"))
        yield engine


async def candidates(engine: AsyncEngine, person: Demographics) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(CANDIDATE_PEOPLE, candidate_keys([person]))
        return {row.referral_id for row in rows}


async def test_candidates_by_birth_date_are_read_from_the_index_alone(engine: AsyncEngine) -> None:
    keys = candidate_keys([NEW, Demographics(birth_date=date(1950, 2, 1), family="ward")])
    for shown in (
        await explain(engine, CANDIDATE_PEOPLE, keys, analyze=True),
        await explain(engine, CANDIDATE_PEOPLE, keys, generic=True),  # asyncpg's, in time
    ):
        assert "Index Only Scan using ix_person_records_born on person_records by_birth" in shown
        assert "Heap Scan on person_records by_birth" not in shown, shown
        # Each block is an index look-up. (Reading the found people's referrals afterwards
        # is the planner's choice: on 5,000 rows a scan is cheaper, at a million it is
        # ix_notifier_person_records_person_id.)
        for block in ("by_nhs", "by_address", "by_birth"):
            assert f"Seq Scan on person_records {block}" not in shown, shown


async def test_a_shared_birth_date_needs_one_more_field_in_common(engine: AsyncEngine) -> None:
    assert await candidates(engine, NEW) == {"plan-initial", "plan-postcode", "plan-phone"} | {
        "plan-nhs"
    }
    # A new person with an NHS number is never compared with another number's referrals.
    with_nhs = Demographics(**{**NEW.__dict__, "nhs_number": "9434765870"})
    assert await candidates(engine, with_nhs) == {"plan-initial", "plan-postcode", "plan-phone"}


ORG = "https://fhir.nhs.uk/Id/ods-organization-code|H85001"
ORG_TASKS = 3_000  # its history: one in ten still open
PERSON = (
    "insert into notifier.person_records (referral_id, person_id, link_basis, family, given,"
    " postcode, phone)"
)
TASK = (
    "insert into notifier.tasks (referral_id, version, status, business_status, requester_org,"
    " task)"
)
# Two people, each with an open referral of ORG's and a new one: Anna's reached first contact.
EPISODES = {
    "plan-anna-old": ("plan-anna", "in-progress", "first-contact-made"),
    "plan-anna-new": ("plan-anna", "in-progress", "first-contact-made"),
    "plan-ben-old": ("plan-ben", "accepted", "allocated"),
    "plan-ben-new": ("plan-ben", "in-progress", "first-contact-made"),
}


@pytest.fixture
async def episodes(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    fills = [
        (
            f"{PERSON} select 'plan-t-' || g, 'plan-t-' || g, 'self', 'historical', array['a'],"
            " 'SW11AA', '0' from generate_series(1, :rows) g",
            {"rows": ORG_TASKS},
        ),
        (
            f"{TASK} select 'plan-t-' || g, 3, case when g % 10 = 0 then 'in-progress'"
            " else 'completed' end, 'first-contact-made', :org, '{}'::jsonb"
            " from generate_series(1, :rows) g",
            {"rows": ORG_TASKS, "org": ORG},
        ),
    ]
    for rid, (person, status, step) in EPISODES.items():
        fills += [
            (
                f"{PERSON} values (:id, :person, 'self', 'historical', array['a'], 'SW11AA', '0')",
                {"id": rid, "person": person},
            ),
            (
                f"{TASK} values (:id, 1, :status, :step, :org, '{{}}'::jsonb)",
                {"id": rid, "status": status, "step": step, "org": ORG},
            ),
            (
                "insert into notifier.task_history (referral_id, version, task) values (:id, 1,"
                " jsonb_build_object('businessStatus', jsonb_build_object('coding',"
                " jsonb_build_array(jsonb_build_object('code', cast(:step as text))))))",
                {"id": rid, "step": step},
            ),
        ]
    async with with_history(stack, "notifier.person_records", "referral_id", *fills) as engine:
        async with engine.begin() as conn:
            await conn.execute(text("analyze notifier.tasks"))
            await conn.execute(text("analyze notifier.task_history"))
        yield engine
        async with engine.begin() as conn:
            for table in ("notifier.tasks", "notifier.task_history"):
                await conn.execute(text(f"delete from {table} where referral_id like 'plan-%'"))


async def test_the_open_episode_check_walks_from_the_person_not_the_organisation(
    episodes: AsyncEngine,
) -> None:
    asked = {"plan-anna-new": ORG, "plan-ben-new": ORG}
    async with AsyncSession(episodes) as session:
        assert await accepted_in_open_episode(session, asked, CONTACT_STEPS) == {"plan-anna-new"}
    keys = {
        "referral_ids": sorted(asked),
        "organisations": [ORG, ORG],
        "steps": sorted(CONTACT_STEPS),
    }
    for shown in (
        await explain(episodes, HEARD_IN_OPEN_EPISODE, keys, analyze=True),
        await explain(episodes, HEARD_IN_OPEN_EPISODE, keys, generic=True),
    ):
        assert "Index Scan using tasks_pkey on tasks" in shown, shown
        assert "ix_notifier_tasks_requester_org" not in shown, shown
        assert "Seq Scan on tasks" not in shown, shown
