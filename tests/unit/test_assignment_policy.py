from dataclasses import replace
from datetime import date

from hub_common.fhir.needs import NeedCategory as N
from hub_router.domain.model import WEEKDAYS, LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import choose_worker

MONDAY = date(2026, 11, 23)
ALL_WEEK = frozenset(WEEKDAYS)


def worker(worker_id: str, **changes: object) -> LinkWorker:
    base = LinkWorker(
        worker_id,
        boroughs=frozenset({"Croydon"}),
        postcode_districts=frozenset({"CR7"}),
        working_days=ALL_WEEK,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


REFERRAL = ReferralToRoute(
    "r1", "e1", district="CR7", borough="Croydon", needs=frozenset({N.CARER_SUPPORT})
)


def test_hard_constraints_exclude_with_reasons() -> None:
    workers = [
        worker("away", postcode_districts=frozenset({"SM1"}), boroughs=frozenset({"Sutton"})),
        worker("inactive", active=False),
        worker("full", max_caseload=2),
        worker("busy-today", max_new_per_day=1),
        worker("on-leave", leave=((MONDAY, MONDAY),)),
        worker("weekdays-off", working_days=frozenset({"Tue"})),
    ]
    loads = {"full": Load(active=2), "busy-today": Load(new_today=1)}
    decision = choose_worker(REFERRAL, workers, loads, MONDAY)
    assert decision.worker_id is None
    assert decision.excluded == {
        "away": "does not cover the person's area",
        "inactive": "inactive",
        "full": "caseload full (2/2)",
        "busy-today": "daily limit reached (1/1)",
        "on-leave": "not working today (day off or leave)",
        "weekdays-off": "not working today (day off or leave)",
    }


def test_risk_flag_needs_a_cleared_worker() -> None:
    risky = replace(REFERRAL, risk_flagged=True)
    decision = choose_worker(risky, [worker("a"), worker("b", risk_cleared=True)], {}, MONDAY)
    assert decision.worker_id == "b"
    assert decision.excluded["a"] == "not cleared for visits flagged as risky"


def test_borough_coverage_counts_when_the_district_is_not_listed() -> None:
    decision = choose_worker(replace(REFERRAL, district="SE25"), [worker("a")], {}, MONDAY)
    assert decision.worker_id == "a"


def test_interpreter_need_outweighs_matching_needs() -> None:
    person = replace(REFERRAL, language="tw", interpreter_needed=True)
    workers = [
        worker("needs-match", needs=frozenset({N.CARER_SUPPORT})),
        worker("speaks-twi", languages=frozenset({"en", "tw"})),
    ]
    assert choose_worker(person, workers, {}, MONDAY).worker_id == "speaks-twi"


def test_continuity_keeps_the_persons_worker() -> None:
    workers = [worker("a", needs=frozenset({N.CARER_SUPPORT})), worker("b")]
    assert choose_worker(REFERRAL, workers, {}, MONDAY, continuity_worker="b").worker_id == "b"


def test_lighter_relative_load_wins_when_all_else_is_equal() -> None:
    workers = [worker("a"), worker("b", max_caseload=20)]
    loads = {"a": Load(active=10), "b": Load(active=10)}  # a is 25% full, b 50%
    decision = choose_worker(REFERRAL, workers, loads, MONDAY)
    assert decision.worker_id == "a"
    assert decision.explain()["winningScore"] == decision.scores["a"] > decision.scores["b"]


def test_workers_already_offered_are_skipped() -> None:
    declined = replace(REFERRAL, excluded_workers=frozenset({"a"}))
    decision = choose_worker(declined, [worker("a"), worker("b")], {}, MONDAY)
    assert decision.worker_id == "b"
    assert decision.excluded == {"a": "already offered this referral"}
