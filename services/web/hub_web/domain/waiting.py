"""Why nobody was found for a waiting referral, from the router's latest decision record."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_web.domain.naming import need_name
from hub_web.domain.tasks import parse_instant

WHY_LABELS = {
    "no-eligible-worker": "No link worker could take it within the next week",
    "offers-exhausted": "Offered too many times without being accepted",
}


@dataclass(frozen=True)
class Exclusion:
    """One reason workers were ruled out, and who."""

    reason: str
    workers: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """A link worker the coordinator may choose, or may not (and why), with their load."""

    worker_id: str
    name: str
    eligible: bool
    reason: str | None  # why they cannot take it today
    set_aside: tuple[str, ...]  # what choosing them overrides (area, an earlier offer)
    open_referrals: int | None = None
    max_caseload: int | None = None
    new_today: int | None = None
    max_new_per_day: int | None = None

    @property
    def load(self) -> str:
        """`3 of 40 open, 2 of 12 new today`; empty when the router gave no load."""
        if self.open_referrals is None:
            return ""
        return (
            f"{self.open_referrals} of {self.max_caseload} open, "
            f"{self.new_today} of {self.max_new_per_day} new today"
        )

    @property
    def label(self) -> str:
        """How the choice reads in the list: name, load, and what stands in the way."""
        parts = [self.name]
        if self.load:
            parts.append(self.load)
        if self.reason:
            parts.append(f"cannot take it: {self.reason}")
        elif self.set_aside:
            parts.append(" and ".join(self.set_aside))
        return " · ".join(parts)


def _candidate(entry: dict[str, Any]) -> Candidate:
    def number(key: str) -> int | None:
        value = entry.get(key)
        return int(value) if isinstance(value, int | float) else None

    return Candidate(
        worker_id=str(entry.get("id") or ""),
        name=str(entry.get("name") or entry.get("id") or ""),
        eligible=bool(entry.get("eligible")),
        reason=entry.get("reason") or None,
        set_aside=tuple(str(x) for x in entry.get("setAside") or ()),
        open_referrals=number("openReferrals"),
        max_caseload=number("maxCaseload"),
        new_today=number("newToday"),
        max_new_per_day=number("maxNewPerDay"),
    )


@dataclass(frozen=True)
class WaitingReferral:
    """A referral waiting for a coordinator, with what the page needs to explain and assign."""

    referral_id: str
    borough: str | None
    district: str | None
    needs: tuple[str, ...]
    language: str | None
    interpreter_needed: bool
    risk_flagged: bool
    failed_offers: int
    offered_to: tuple[str, ...]
    waiting_since: datetime | None
    why: str
    exclusions: tuple[Exclusion, ...]
    decline_reason: str | None
    candidates: tuple[Candidate, ...]
    """Whom the coordinator can choose from, best fit first (the router's order), with those
    who cannot take it last, saying why."""
    names: dict[str, str]  # worker id -> name, for the exclusions and earlier offers

    def named(self, worker_ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.names.get(w, w) for w in worker_ids)


def waiting_referral(entry: dict[str, Any]) -> WaitingReferral:
    """Read one entry of the router's `GET /coordination/waiting`."""
    decision: dict[str, Any] = entry.get("decision") or {}
    excluded: dict[str, str] = decision.get("excluded") or {}
    by_reason: dict[str, list[str]] = defaultdict(list)
    for worker, reason in sorted(excluded.items()):
        by_reason[str(reason)].append(worker)
    trigger = decision.get("trigger") or {}
    if "candidates" in entry:
        candidates = tuple(_candidate(c) for c in entry.get("candidates") or ())
    else:  # an older router: the workers its decision record names, by id; it judges the choice
        candidates = tuple(
            Candidate(worker, worker, True, None, ())
            for worker in sorted({*excluded, *(decision.get("scores") or {})})
        )
    return WaitingReferral(
        referral_id=str(entry.get("referralId") or ""),
        borough=entry.get("borough"),
        district=entry.get("district"),
        needs=tuple(need_name(str(n)) for n in entry.get("needs") or ()),
        language=entry.get("language"),
        interpreter_needed=bool(entry.get("interpreterNeeded")),
        risk_flagged=bool(entry.get("riskFlagged")),
        failed_offers=int(entry.get("failedOffers") or 0),
        offered_to=tuple(entry.get("offeredTo") or ()),
        waiting_since=parse_instant(entry.get("waitingSince")),
        why=WHY_LABELS.get(str(decision.get("why")), "The router found nobody to offer it to"),
        exclusions=tuple(
            Exclusion(reason, tuple(workers)) for reason, workers in sorted(by_reason.items())
        ),
        # Decline reasons are kept for coordinators alone (never published): this is their page.
        decline_reason=trigger.get("reason") if trigger.get("event") == "offer declined" else None,
        candidates=candidates,
        names={
            **{str(k): str(v) for k, v in (entry.get("workerNames") or {}).items()},
            **{c.worker_id: c.name for c in candidates},
        },
    )
