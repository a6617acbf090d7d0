"""The assignment policy: hard constraints first, then a score. Pure, and explains itself.

Hard constraints (a worker failing any is excluded, and the record says which):
covers the person's postcode district or borough; active and working today; below the active
caseload limit; below today's new-referral limit; cleared for visits when a risk is flagged.
Language is not a hard constraint (interpreters exist), but weighs heavily in the score when
the person needs one.

Score (higher wins): continuity with the person's open referral, matching needs, matching
language (more when an interpreter is needed), and the lightest relative load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from hub_router.domain.model import LinkWorker, Load, ReferralToRoute

CONTINUITY_WEIGHT = 100.0
NEED_WEIGHT = 10.0
LANGUAGE_WEIGHT = 8.0
INTERPRETER_LANGUAGE_WEIGHT = 40.0
LOAD_WEIGHT = 20.0


@dataclass(frozen=True)
class Decision:
    """The chosen worker (or none), every exclusion with its reason, and the scores."""

    worker_id: str | None
    excluded: Mapping[str, str] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)

    def explain(self) -> dict[str, object]:
        """A structured record an operator can read."""
        return {
            "chosen": self.worker_id,
            "winningScore": self.scores.get(self.worker_id) if self.worker_id else None,
            "scores": dict(self.scores),
            "excluded": dict(self.excluded),
        }


ALREADY_OFFERED = "already-offered"
AREA = "area"
WAIVABLE = frozenset({ALREADY_OFFERED, AREA})
"""Constraints a coordinator may knowingly set aside when assigning by hand. Capacity, working
days and risk clearance are never waived: they protect the worker and the person."""


def exclusion_reason(
    worker: LinkWorker,
    referral: ReferralToRoute,
    load: Load,
    today: date,
    waive: frozenset[str] = frozenset(),
) -> str | None:
    """Why `worker` cannot take `referral` today, or None when every hard constraint holds."""
    if ALREADY_OFFERED not in waive and worker.worker_id in referral.excluded_workers:
        return "already offered this referral"
    if AREA not in waive and not worker.covers(referral.district, referral.borough):
        return "does not cover the person's area"
    if not worker.active:
        return "inactive"
    if not worker.available_on(today):
        return "not working today (day off or leave)"
    if load.active >= worker.max_caseload:
        return f"caseload full ({load.active}/{worker.max_caseload})"
    if load.new_today >= worker.max_new_per_day:
        return f"daily limit reached ({load.new_today}/{worker.max_new_per_day})"
    if referral.risk_flagged and not worker.risk_cleared:
        return "not cleared for visits flagged as risky"
    return None


def could_take(workers: Sequence[LinkWorker], referrals: Sequence[ReferralToRoute]) -> set[str]:
    """The workers who cover the area of at least one of `referrals`: every worker routing them
    could offer one to (covering the area is the first hard constraint; only a coordinator,
    by hand, sets it aside). A change about these referrals locks exactly these workers."""
    areas = {(r.district, r.borough) for r in referrals}  # a batch has few distinct areas
    return {
        worker.worker_id
        for worker in workers
        if any(worker.covers(district, borough) for district, borough in areas)
    }


def _language_matches(worker: LinkWorker, language: str | None) -> bool:
    if not language:
        return False
    primary = language.split("-")[0].lower()
    return any(spoken.split("-")[0].lower() == primary for spoken in worker.languages)


def match_score(
    worker: LinkWorker, referral: ReferralToRoute, continuity_worker: str | None
) -> float:
    """The part of the score that depends on who the person is, not on how busy the worker is."""
    total = 0.0
    if continuity_worker == worker.worker_id:
        total += CONTINUITY_WEIGHT
    total += NEED_WEIGHT * len(referral.needs & worker.needs)
    if _language_matches(worker, referral.language):
        total += INTERPRETER_LANGUAGE_WEIGHT if referral.interpreter_needed else LANGUAGE_WEIGHT
    return total


def load_score(worker: LinkWorker, active: int) -> float:
    """Prefer the lightest relative load: full marks when empty, none when full."""
    return LOAD_WEIGHT * (1.0 - active / max(worker.max_caseload, 1))


def score(
    worker: LinkWorker, referral: ReferralToRoute, load: Load, continuity_worker: str | None
) -> float:
    return round(
        match_score(worker, referral, continuity_worker) + load_score(worker, load.active), 3
    )


def choose_worker(
    referral: ReferralToRoute,
    workers: Sequence[LinkWorker],
    loads: Mapping[str, Load],
    today: date,
    continuity_worker: str | None = None,
) -> Decision:
    """The best eligible worker for `referral`; ties go to the smaller worker id (stable)."""
    excluded: dict[str, str] = {}
    scores: dict[str, float] = {}
    for worker in workers:
        load = loads.get(worker.worker_id, Load())
        reason = exclusion_reason(worker, referral, load, today)
        if reason:
            excluded[worker.worker_id] = reason
        else:
            scores[worker.worker_id] = score(worker, referral, load, continuity_worker)
    if not scores:
        return Decision(None, excluded, scores)
    best = min(scores, key=lambda worker_id: (-scores[worker_id], worker_id))
    return Decision(best, excluded, scores)


def earliest_day(
    worker: LinkWorker,
    referral: ReferralToRoute,
    loads_by_day: Mapping[date, Mapping[str, Load]],
    waive: frozenset[str] = frozenset(),
) -> tuple[date | None, str | None]:
    """The first of the given days on which `worker` may take `referral`; else None, and why
    not on the first day (the reason a coordinator needs to hear)."""
    first_reason = None
    for day in sorted(loads_by_day):
        load = loads_by_day[day].get(worker.worker_id, Load())
        reason = exclusion_reason(worker, referral, load, day, waive)
        if reason is None:
            return day, None
        first_reason = first_reason or reason
    return None, first_reason


def choose_soonest(
    route: ReferralToRoute,
    workers: Sequence[LinkWorker],
    loads: Mapping[date, Mapping[str, Load]],
    today: date,
    continuity: str | None,
    days: int,
) -> tuple[Decision, date]:
    """The best worker on the soonest of `days` days from `today` with one who can take the
    referral; with nobody on any day, today's decision, which explains why."""
    first = Decision(None)
    for ahead in range(days):
        day = today + timedelta(days=ahead)
        decision = choose_worker(route, workers, loads[day], day, continuity)
        if decision.worker_id:
            return decision, day
        first = decision if ahead == 0 else first
    return first, today
