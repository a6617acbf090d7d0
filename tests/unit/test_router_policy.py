"""The policy's parts that offers and assignment by hand rely on: waivers, the earliest day,
and a score that splits into who the person is and how busy the worker is."""

from dataclasses import replace
from datetime import date, timedelta

from hub_common.fhir.needs import NeedCategory as N
from hub_router.domain.model import WEEKDAYS, LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import (
    AREA,
    WAIVABLE,
    could_take,
    earliest_day,
    exclusion_reason,
    load_score,
    match_score,
    score,
)

MONDAY = date(2026, 11, 23)
WORKER = LinkWorker(
    "a",
    boroughs=frozenset({"Sutton"}),
    postcode_districts=frozenset({"SM1"}),
    needs=frozenset({N.HOUSING}),
    languages=frozenset({"en", "pl"}),
    max_caseload=10,
    max_new_per_day=2,
    working_days=frozenset(WEEKDAYS[:5]),
)
CROYDON = ReferralToRoute(
    "r", "e", district="CR7", borough="Croydon", excluded_workers=frozenset({"a"})
)


def days(*loads: Load) -> dict[date, dict[str, Load]]:
    return {MONDAY + timedelta(days=i): {"a": load} for i, load in enumerate(loads)}


def test_a_coordinator_may_waive_area_and_earlier_offers_but_nothing_else() -> None:
    assert exclusion_reason(WORKER, CROYDON, Load(), MONDAY) == "already offered this referral"
    assert (
        exclusion_reason(WORKER, CROYDON, Load(), MONDAY, frozenset({AREA}))
        == "already offered this referral"
    )
    assert exclusion_reason(WORKER, CROYDON, Load(), MONDAY, WAIVABLE) is None
    assert (
        exclusion_reason(WORKER, CROYDON, Load(active=10), MONDAY, WAIVABLE)
        == "caseload full (10/10)"
    )
    risky = replace(CROYDON, risk_flagged=True)
    assert (
        exclusion_reason(WORKER, risky, Load(), MONDAY, WAIVABLE)
        == "not cleared for visits flagged as risky"
    )


def test_the_earliest_day_skips_full_days_and_days_off() -> None:
    # Monday full for new referrals, Tuesday free.
    assert earliest_day(WORKER, CROYDON, days(Load(new_today=2), Load()), WAIVABLE) == (
        MONDAY + timedelta(days=1),
        None,
    )
    saturday = {MONDAY + timedelta(days=5): {"a": Load()}}
    assert earliest_day(WORKER, CROYDON, saturday, WAIVABLE) == (
        None,
        "not working today (day off or leave)",
    )
    assert earliest_day(WORKER, CROYDON, days(Load(active=10), Load(active=10)), WAIVABLE) == (
        None,
        "caseload full (10/10)",
    )


def test_the_score_is_the_match_plus_the_load() -> None:
    person = ReferralToRoute(
        "r",
        "e",
        district="SM1",
        borough="Sutton",
        needs=frozenset({N.HOUSING}),
        language="pl",
        interpreter_needed=True,
    )
    assert match_score(WORKER, person, None) == 10 + 40
    assert match_score(WORKER, person, "a") == 100 + 10 + 40
    assert load_score(WORKER, 5) == 10.0
    assert score(WORKER, person, Load(active=5), None) == 60.0


def test_the_workers_a_change_locks_are_those_covering_its_referrals_areas() -> None:
    croydon = replace(WORKER, worker_id="c", boroughs=frozenset({"Croydon"}))
    by_district = replace(
        WORKER, worker_id="d", boroughs=frozenset(), postcode_districts=frozenset({"CR7"})
    )
    assert could_take([WORKER, croydon, by_district], [CROYDON]) == {"c", "d"}
    sutton = replace(CROYDON, district="SM1", borough="Sutton")
    assert could_take([WORKER, croydon, by_district], [CROYDON, sutton]) == {"a", "c", "d"}
    assert could_take([WORKER], []) == set()
