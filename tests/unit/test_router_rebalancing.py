"""Batch rebalancing: the min-cost-flow assignment is never worse than greedy, and both obey
every hard constraint and both limits."""

import itertools
from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_common.fhir.needs import NeedCategory as N
from hub_router.domain.model import WEEKDAYS, LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import exclusion_reason
from hub_router.domain.rebalance import (
    BatchAssignment,
    assign_greedily,
    assign_optimally,
    room_today,
    total_score,
)

MONDAY = date(2026, 11, 23)
NEEDS = [N.HOUSING, N.BEREAVEMENT, N.CARER_SUPPORT]
DISTRICTS = ["CR0", "CR7", "SM1"]


def lw(worker_id: str, districts: set[str], **changes: object) -> LinkWorker:
    return LinkWorker(
        worker_id,
        boroughs=frozenset(),
        postcode_districts=frozenset(districts),
        working_days=frozenset(WEEKDAYS),
        **changes,  # type: ignore[arg-type]
    )


def referral(i: int, district: str, **changes: object) -> ReferralToRoute:
    return ReferralToRoute(f"r{i}", f"e{i}", district=district, borough=None, **changes)  # type: ignore[arg-type]


def test_greedy_spends_a_scarce_worker_that_the_flow_saves() -> None:
    # "wide" covers both districts, "narrow" only CR0; each has room for one more today.
    workers = [
        lw("wide", {"CR0", "CR7"}, max_new_per_day=1),
        lw("narrow", {"CR0"}, max_new_per_day=1),
    ]
    loads = {"narrow": Load(active=30)}  # narrow is busier, so greedy prefers wide for r1
    backlog = [referral(1, "CR0"), referral(2, "CR7")]
    greedy = assign_greedily(backlog, workers, loads, MONDAY)
    optimal = assign_optimally(backlog, workers, loads, MONDAY)
    assert greedy.assignments == {"r1": "wide"}
    assert optimal.assignments == {"r1": "narrow", "r2": "wide"}
    assert optimal.total_score > greedy.total_score


def test_scores_count_the_load_the_way_one_at_a_time_routing_does() -> None:
    workers = [lw("a", {"CR0"}, needs=frozenset({N.HOUSING}))]
    backlog = [referral(1, "CR0", needs=frozenset({N.HOUSING})), referral(2, "CR0")]
    # r1: 10 (needs) + 20 (empty); r2: 0 + 20 * (1 - 1/40).
    assert total_score({"r1": "a", "r2": "a"}, backlog, workers, {}) == 30 + 19.5


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[ReferralToRoute], list[LinkWorker], dict[str, Load]]:
    workers = [
        lw(
            f"w{i}",
            set(draw(st.sets(st.sampled_from(DISTRICTS), min_size=1))),
            needs=frozenset(draw(st.sets(st.sampled_from(NEEDS)))),
            languages=frozenset(draw(st.sets(st.sampled_from(["en", "pl", "ta"]), min_size=1))),
            max_caseload=draw(st.integers(1, 8)),
            max_new_per_day=draw(st.integers(1, 4)),
            risk_cleared=draw(st.booleans()),
            active=draw(st.booleans() | st.just(True)),
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    loads = {
        w.worker_id: Load(
            active=draw(st.integers(0, w.max_caseload)), new_today=draw(st.integers(0, 2))
        )
        for w in workers
    }
    backlog = [
        referral(
            i,
            draw(st.sampled_from(DISTRICTS)),
            needs=frozenset(draw(st.sets(st.sampled_from(NEEDS)))),
            language=draw(st.sampled_from([None, "pl", "ta"])),
            interpreter_needed=draw(st.booleans()),
            risk_flagged=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 14)))
    ]
    return backlog, workers, loads


def respects_every_constraint(
    result: BatchAssignment,
    backlog: list[ReferralToRoute],
    workers: list[LinkWorker],
    loads: dict[str, Load],
) -> None:
    by_id = {w.worker_id: w for w in workers}
    taken = Counter(result.assignments.values())
    for worker_id, count in taken.items():
        assert count <= room_today(by_id[worker_id], loads[worker_id], MONDAY)
        assert loads[worker_id].active + count <= by_id[worker_id].max_caseload
        assert loads[worker_id].new_today + count <= by_id[worker_id].max_new_per_day
    for item in backlog:
        if item.referral_id in result.assignments:
            worker = by_id[result.assignments[item.referral_id]]
            assert exclusion_reason(worker, item, loads[worker.worker_id], MONDAY) is None


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_optimal_is_never_worse_than_greedy_and_both_respect_capacity(
    scenario: tuple[list[ReferralToRoute], list[LinkWorker], dict[str, Load]],
) -> None:
    backlog, workers, loads = scenario
    greedy = assign_greedily(backlog, workers, loads, MONDAY)
    optimal = assign_optimally(backlog, workers, loads, MONDAY)
    respects_every_constraint(greedy, backlog, workers, loads)
    respects_every_constraint(optimal, backlog, workers, loads)
    assert optimal.assigned >= greedy.assigned
    if optimal.assigned == greedy.assigned:
        assert optimal.total_score >= greedy.total_score - 1e-6


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_optimal_matches_exhaustive_search_on_small_backlogs(
    scenario: tuple[list[ReferralToRoute], list[LinkWorker], dict[str, Load]],
) -> None:
    backlog, workers, loads = scenario
    backlog = backlog[:5]
    choices = [
        [
            None,
            *(
                w.worker_id
                for w in workers
                if exclusion_reason(w, r, loads[w.worker_id], MONDAY) is None
            ),
        ]
        for r in backlog
    ]
    by_id = {w.worker_id: w for w in workers}
    best = (0, 0.0)
    for combination in itertools.product(*choices):
        taken = Counter(c for c in combination if c)
        if any(n > room_today(by_id[w], loads[w], MONDAY) for w, n in taken.items()):
            continue
        assignments = {r.referral_id: c for r, c in zip(backlog, combination, strict=True) if c}
        best = max(best, (len(assignments), total_score(assignments, backlog, workers, loads)))
    optimal = assign_optimally(backlog, workers, loads, MONDAY)
    assert optimal.assigned == best[0]
    assert abs(optimal.total_score - best[1]) < 0.01 * max(1, optimal.assigned)


def test_the_report_compares_both_on_the_demo_roster(capsys: pytest.CaptureFixture[str]) -> None:
    from hub_router.rebalance_report import DEMO_ROSTER, compare, generate, load_roster, main

    workers = load_roster(DEMO_ROSTER)
    report = compare(generate(workers, 120, seed=1, day=MONDAY))
    greedy, optimal = report["greedy"], report["optimal"]
    assert report["referrals"] == 120 and report["workers"] == len(workers) == 24
    assert optimal["assigned"] >= greedy["assigned"]
    assert optimal["assigned"] > greedy["assigned"] or optimal["totalScore"] >= greedy["totalScore"]
    assert main(["--referrals", "40,80", "--date", "2026-11-23"]) == 0
    printed = capsys.readouterr().out
    assert "optimal (flow)" in printed and "time to assign" in printed
