"""Service level alerts from the router (`hub.alerts`), as the notifier keeps them. Pure.

An alert names a referral by id, its borough, the rule (first contact, closure) and the level
(breach, escalated); never the person. A resolving alert closes every level of its rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

SLA_BREACH = "sla-breach"
SLA_BREACH_RESOLVED = "sla-breach-resolved"
RULES = frozenset({"first-contact", "closure"})
LEVELS = frozenset({"breach", "escalated"})
RESOLUTIONS = frozenset({"first-contact-made", "closed"})


@dataclass(frozen=True)
class Breach:
    """A referral missed a service level (or still has not met it, when escalated)."""

    referral_id: str
    borough: str | None
    rule: str
    level: str
    due_at: datetime
    raised_at: datetime


@dataclass(frozen=True)
class Resolved:
    """A referral with a raised breach met the rule late, or closed."""

    referral_id: str
    rule: str
    resolution: str
    resolved_at: datetime


def _text(value: Mapping[str, Any], field: str, choices: frozenset[str] | None = None) -> str:
    found = value.get(field)
    if not isinstance(found, str) or not found or len(found) > 64:
        raise ValueError(f"{field}: a non-empty string of at most 64 characters is required")
    if choices is not None and found not in choices:
        raise ValueError(f"{field}: one of {', '.join(sorted(choices))} is required")
    return found


def _moment(value: Mapping[str, Any], field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(_text(value, field))
    except ValueError:
        raise ValueError(f"{field}: an ISO 8601 date and time is required") from None
    if moment.tzinfo is None:
        raise ValueError(f"{field}: a time zone is required")
    return moment


def parse_alert(value: Any) -> Breach | Resolved | None:
    """The alert in `value`; None for kinds the notifier does not keep (awaiting allocation,
    which the router's waiting list already shows). ValueError names a wrong field."""
    if not isinstance(value, dict):
        raise ValueError("an alert is a JSON object")
    kind = value.get("alert")
    if kind == SLA_BREACH:
        borough = value.get("borough")
        if borough is not None and not isinstance(borough, str):
            raise ValueError("borough: a string or null is required")
        return Breach(
            referral_id=_text(value, "referralId"),
            borough=borough,
            rule=_text(value, "rule", RULES),
            level=_text(value, "level", LEVELS),
            due_at=_moment(value, "dueAt"),
            raised_at=_moment(value, "raisedAt"),
        )
    if kind == SLA_BREACH_RESOLVED:
        return Resolved(
            referral_id=_text(value, "referralId"),
            rule=_text(value, "rule", RULES),
            resolution=_text(value, "resolution", RESOLUTIONS),
            resolved_at=_moment(value, "raisedAt"),
        )
    if not isinstance(kind, str):
        raise ValueError("alert: the kind of alert is required")
    return None


@dataclass(frozen=True)
class DigestEmail:
    """Subject and plain-text body of one borough's daily digest: ids and counts only."""

    subject: str
    body: str


def digest_email(
    borough: str, day: date, open_alerts: list[tuple[str, str, str]], link: str
) -> DigestEmail:
    """The digest of `borough`'s open alerts on `day`, each (referral id, rule, level)."""
    counts: dict[tuple[str, str], int] = {}
    for _, rule, level in open_alerts:
        counts[(rule, level)] = counts.get((rule, level), 0) + 1
    lines = [
        f"Open service level alerts in {borough} on {day.isoformat()}: {len(open_alerts)}.",
        "",
        *(f"- {rule} {level}: {n}" for (rule, level), n in sorted(counts.items())),
        "",
        "Referrals (by id):",
        *(f"- {rid}: {rule} {level}" for rid, rule, level in sorted(open_alerts)),
        "",
        f"Open the coordinator's page for details: {link}",
    ]
    return DigestEmail(
        subject=f"Referral hub: {len(open_alerts)} open service level alerts in {borough}",
        body="\n".join(lines) + "\n",
    )
