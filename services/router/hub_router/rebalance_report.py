"""`python -m hub_router.rebalance_report`: greedy versus optimal batch assignment, measured.

Generates a South West London backlog (referrals spread over the service area's postcode
districts, with needs, languages, interpreters, risk flags and some continuity), loads the demo
roster with partly filled caseloads, and assigns the backlog both ways under the same hard
constraints and limits: one at a time (greedy, what routing does as referrals arrive) and all
at once (minimum-cost flow, `domain/rebalance.py`). Prints how many each assigns, the total
score, and the time each took. Everything is generated: no personal data.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hub_common.fhir.needs import NeedCategory
from hub_common.region.service_area import district_boroughs
from hub_router.adapters.roster_file import read_roster
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import exclusion_reason
from hub_router.domain.rebalance import (
    assign_greedily,
    assign_optimally,
    room_today,
)

DEMO_ROSTER = Path(__file__).resolve().parents[3] / "deploy" / "demo" / "linkworkers.csv"
# Community languages of South West London beyond English, roughly by how often they come up.
LANGUAGES = ["pl", "ta", "ur", "tw", "pt", "so", "bn", "ar", "ro", "ko", "gu", "pa", "es"]
COMMON_NEEDS = [
    NeedCategory.LONELINESS_ISOLATION,
    NeedCategory.MENTAL_WELLBEING,
    NeedCategory.MONEY_DEBT_BENEFITS,
    NeedCategory.HOUSING,
]


@dataclass(frozen=True)
class Scenario:
    """A backlog, a roster with today's loads, and who already holds whom (continuity)."""

    day: date
    referrals: list[ReferralToRoute]
    workers: list[LinkWorker]
    loads: dict[str, Load]
    continuity: dict[str, str]


def load_roster(path: Path) -> list[LinkWorker]:
    return [entry.worker for entry in read_roster(path)]


def generate(workers: Sequence[LinkWorker], size: int, seed: int, day: date) -> Scenario:
    """A reproducible backlog of `size` referrals over every South West London district."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
    districts = district_boroughs()
    names = sorted(districts)
    all_needs = list(NeedCategory)
    referrals = []
    for i in range(size):
        district = rng.choice(names)
        needs = {rng.choice(COMMON_NEEDS)} | set(rng.sample(all_needs, rng.randint(0, 2)))
        language = rng.choice(LANGUAGES) if rng.random() < 0.25 else "en"
        referrals.append(
            ReferralToRoute(
                referral_id=f"gen-{i:05d}",
                episode_id=f"gen-ep-{i:05d}",
                district=district,
                borough=districts[district],
                needs=frozenset(needs),
                language=language,
                interpreter_needed=language != "en" and rng.random() < 0.5,
                risk_flagged=rng.random() < 0.1,
            )
        )
    loads = {
        w.worker_id: Load(
            active=rng.randint(0, int(w.max_caseload * 0.85)), new_today=rng.randint(0, 2)
        )
        for w in workers
    }
    continuity: dict[str, str] = {}
    for referral in referrals:
        covering = [
            w.worker_id
            for w in workers
            if exclusion_reason(w, referral, Load(), day) is None and loads[w.worker_id].active
        ]
        if covering and rng.random() < 0.05:  # the person already has an open referral
            continuity[referral.referral_id] = rng.choice(covering)
    return Scenario(day, referrals, list(workers), loads, continuity)


def compare(scenario: Scenario) -> dict[str, Any]:
    """Both ways on the same scenario: assigned, total score, seconds to assign."""
    results: dict[str, Any] = {}
    for name, solve in (("greedy", assign_greedily), ("optimal", assign_optimally)):
        started = time.perf_counter()
        result = solve(
            scenario.referrals, scenario.workers, scenario.loads, scenario.day, scenario.continuity
        )
        elapsed = time.perf_counter() - started
        results[name] = {
            "assigned": result.assigned,
            "totalScore": result.total_score,
            "meanScore": round(result.total_score / result.assigned, 2) if result.assigned else 0,
            "seconds": round(elapsed, 4),
        }
    return {
        "day": scenario.day.isoformat(),
        "referrals": len(scenario.referrals),
        "workers": len(scenario.workers),
        "activeWorkers": sum(w.active for w in scenario.workers),
        "roomToday": sum(
            room_today(w, scenario.loads[w.worker_id], scenario.day)
            for w in scenario.workers
            if w.active
        ),
        **results,
    }


def render(reports: Sequence[dict[str, Any]], roster: Path, seed: int) -> str:
    first = reports[0]
    rows = [
        "Batch rebalancing on a generated South West London backlog",
        f"  roster {roster.name}: {first['workers']} link workers, {first['activeWorkers']} active;"
        f" partly filled caseloads; assigned for {first['day']} (seed {seed})",
        "",
        f"  {'backlog':>7} {'room':>5}  {'':15}{'assigned':>9}{'total score':>13}"
        f"{'mean':>8}{'time to assign':>16}",
    ]
    for report in reports:
        greedy, optimal = report["greedy"], report["optimal"]
        for label, result in (("greedy", greedy), ("optimal (flow)", optimal)):
            lead = (
                f"{report['referrals']:>7} {report['roomToday']:>5}"
                if label == "greedy"
                else " " * 13
            )
            rows.append(
                f"  {lead}  {label:15}{result['assigned']:>9}{result['totalScore']:>13.1f}"
                f"{result['meanScore']:>8.2f}{result['seconds'] * 1000:>13.1f} ms"
            )
        rows.append(
            f"  {'':13}  {'difference':15}{optimal['assigned'] - greedy['assigned']:>+9}"
            f"{optimal['totalScore'] - greedy['totalScore']:>+13.1f}"
        )
    rows += [
        "",
        "  room: new referrals the roster can still take today under both limits. When the",
        "  backlog exceeds it, the flow also chooses which referrals to offer today (the best",
        "  matches); greedy offers them in arrival order.",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hub_router.rebalance_report",
        description="Compare greedy and optimal (min-cost flow) assignment of a backlog.",
    )
    parser.add_argument("--roster", type=Path, default=DEMO_ROSTER, help="CSV or JSON roster")
    parser.add_argument(
        "--referrals",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[150, 300],
        help="backlog sizes, comma-separated (default: one within today's room, one beyond)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--date", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        workers = load_roster(args.roster)
    except (OSError, ValueError) as error:
        print(f"rebalance_report: {error}", file=sys.stderr)
        return 1
    reports = [compare(generate(workers, size, args.seed, args.date)) for size in args.referrals]
    print(json.dumps(reports, indent=2) if args.json else render(reports, args.roster, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
