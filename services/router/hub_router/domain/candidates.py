"""Whom a coordinator may offer a waiting referral to, best fit first, and why not the rest.

Assigning by hand may set aside the area and earlier offers (policy.WAIVABLE), never capacity,
working days or risk clearance. So each worker is either open to choose, with what choosing
them sets aside, or closed, with the hard reason, judged by the same rules the router applies
when the coordinator's choice arrives. Pure: the caller brings the workers and their loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import WAIVABLE, exclusion_reason, score


@dataclass(frozen=True)
class Candidate:
    """One worker as a choice for one referral."""

    worker: LinkWorker
    name: str
    load: Load
    reason: str | None  # why they cannot take it today (capacity, day off, risk); None if they can
    set_aside: tuple[str, ...]  # what choosing them overrides: area, an earlier offer
    score: float | None  # the router's score when they can take it

    @property
    def eligible(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.worker.worker_id,
            "name": self.name,
            "eligible": self.eligible,
            "reason": self.reason,
            "setAside": list(self.set_aside),
            "score": self.score,
            "openReferrals": self.load.active,
            "maxCaseload": self.worker.max_caseload,
            "newToday": self.load.new_today,
            "maxNewPerDay": self.worker.max_new_per_day,
        }


def candidates(
    referral: ReferralToRoute,
    offered_before: Sequence[str],
    workers: Sequence[LinkWorker],
    names: Mapping[str, str],
    loads: Mapping[str, Load],
    today: date,
) -> list[Candidate]:
    """Every worker, best fit first: those who can take it (covering the area, not offered it
    before, then by score), then those who cannot, by name."""
    seen = replace(referral, excluded_workers=frozenset(offered_before))
    found = []
    for worker in workers:
        load = loads.get(worker.worker_id, Load())
        reason = exclusion_reason(worker, seen, load, today, waive=WAIVABLE)
        set_aside = []
        if not worker.covers(referral.district, referral.borough):
            set_aside.append("does not cover the person's area")
        if worker.worker_id in seen.excluded_workers:
            set_aside.append("already offered this referral")
        found.append(
            Candidate(
                worker,
                names.get(worker.worker_id) or worker.worker_id,
                load,
                reason,
                tuple(set_aside),
                None if reason else score(worker, referral, load, None),
            )
        )
    return sorted(
        found,
        key=lambda c: (
            not c.eligible,
            len(c.set_aside),
            -(c.score or 0.0),
            c.name,
            c.worker.worker_id,
        ),
    )
