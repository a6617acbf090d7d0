"""A new person's candidates stay a few index reads however many people share their birth date:
PostgreSQL's own plan, on a history where fifty people share each birth date (a million
referrals make about 35), keeps or drops each from ix_person_records_born alone, and finds
exactly the referrals `may_match` would compare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_notifier.adapters.person_links import CANDIDATE_PEOPLE, candidate_keys
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
