"""A closed referral's Task and routing facts with the person taken out, kept for the figures.

When a referral's retention period ends (hub_common.privacy.retention) the router deletes its care
plan, service level clock and routing explanations, but keeps its Task row in this form: the
coordinators' charts (referrals per source per week, time to first contact) and the wellbeing
change by source, need and borough are computed from Tasks, and must not change when the
people behind them are forgotten.

What stays is what those figures read and what identifies nobody: dates, statuses, the source
and referring organisation, the link worker, needs, borough, coded wellbeing scores and the
community services offered. What goes: the episode id (the one thing that linked a person's
referrals; each Task becomes its own subject), the referrer's own reference (which their
system can tie to the person), free-text reasons, notes and the outcome summary, and the postcode district,
language, interpreter and risk flags (with a borough and a week, enough to narrow a small
group down to one person).
"""

from __future__ import annotations

from typing import Any

from hub_common.fhir import systems as sys
from hub_router.adapters.fhir_task import EPISODE_ID_SYSTEM

REMOVED_REASON = "removed when the record's retention period ended"
ANONYMISED_REFERENCE = "anonymised"
FREE_TEXT_KEYS = frozenset({"note", "comment"})


def anonymised_task(task: dict[str, Any], referral_id: str) -> dict[str, Any]:
    """The Task snapshot without the person (see the module's docstring)."""

    def clean(value: Any) -> Any:
        if isinstance(value, list):
            return [clean(item) for item in value]
        if not isinstance(value, dict):
            return value
        if value.get("system") == EPISODE_ID_SYSTEM and "value" in value:
            return {**value, "value": referral_id}
        return {key: clean(item) for key, item in value.items() if key not in FREE_TEXT_KEYS}

    cleaned: dict[str, Any] = clean(task)
    cleaned["identifier"] = [
        identifier
        if identifier.get("system") == sys.REFERRAL_ID_SYSTEM
        else {**identifier, "value": ANONYMISED_REFERENCE}
        for identifier in cleaned.get("identifier") or []
    ]
    # The summary in the link worker's words goes; coded measures and support offered stay.
    outputs = [entry for entry in cleaned.get("output") or [] if "valueString" not in entry]
    if outputs:
        cleaned["output"] = outputs
    else:
        cleaned.pop("output", None)  # FHIR forbids empty arrays
    if "statusReason" in cleaned:
        cleaned["statusReason"] = {"text": REMOVED_REASON}
    cleaned.pop("input", None)  # never stored, but never kept either
    return cleaned


def anonymised_facts(facts: dict[str, Any], referral_id: str) -> dict[str, Any]:
    """The routing facts the figures read (needs and borough), and the requester."""
    route = facts.get("route") or {}
    referrer = facts.get("referrerIdentifier") or {}
    return {
        "anonymised": True,
        "requester": facts.get("requester"),
        "referrerIdentifier": {**referrer, "value": ANONYMISED_REFERENCE} if referrer else {},
        "authoredOn": facts.get("authoredOn"),
        "route": {
            "referral_id": referral_id,
            "episode_id": referral_id,
            "district": None,
            "borough": route.get("borough"),
            "needs": list(route.get("needs") or ()),
            "language": None,
            "interpreter_needed": False,
            "risk_flagged": False,
        },
    }
