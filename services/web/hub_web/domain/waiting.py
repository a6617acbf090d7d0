"""Why nobody was found for a waiting referral, from the router's latest decision record."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.needs import NEED_DISPLAY, NeedCategory
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
    candidates: tuple[str, ...]
    """Every worker the decision record names: whom the coordinator can choose from."""


def need_label(code: str) -> str:
    try:
        return NEED_DISPLAY[NeedCategory(code)]
    except ValueError:
        return code


def waiting_referral(entry: dict[str, Any]) -> WaitingReferral:
    """Read one entry of the router's `GET /coordination/waiting`."""
    decision: dict[str, Any] = entry.get("decision") or {}
    excluded: dict[str, str] = decision.get("excluded") or {}
    by_reason: dict[str, list[str]] = defaultdict(list)
    for worker, reason in sorted(excluded.items()):
        by_reason[str(reason)].append(worker)
    trigger = decision.get("trigger") or {}
    candidates = sorted({*excluded, *(decision.get("scores") or {})})
    return WaitingReferral(
        referral_id=str(entry.get("referralId") or ""),
        borough=entry.get("borough"),
        district=entry.get("district"),
        needs=tuple(need_label(str(n)) for n in entry.get("needs") or ()),
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
        candidates=tuple(candidates),
    )
