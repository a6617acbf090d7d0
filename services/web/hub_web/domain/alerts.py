"""Service level alerts as the coordinator's page shows them (from the notifier's JSON). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_web.domain.tasks import parse_instant

RULE_LABELS = {
    "first-contact": "First contact not made in time",
    "closure": "Not closed in time",
}


@dataclass(frozen=True)
class OpenAlert:
    """One open breach or escalation: which referral, which promise, since when."""

    referral_id: str
    borough: str | None
    rule: str  # in words, for the page
    level: str  # the code: breach | escalated
    due_at: datetime | None
    raised_at: datetime | None

    @property
    def escalated(self) -> bool:
        return self.level == "escalated"


def open_alert(entry: dict[str, Any]) -> OpenAlert:
    rule, level = str(entry.get("rule") or ""), str(entry.get("level") or "")
    return OpenAlert(
        referral_id=str(entry.get("referralId") or ""),
        borough=entry.get("borough"),
        rule=RULE_LABELS.get(rule, rule),
        level=level,
        due_at=parse_instant(entry.get("dueAt")),
        raised_at=parse_instant(entry.get("raisedAt")),
    )


def split_alerts(alerts: list[OpenAlert]) -> tuple[list[OpenAlert], list[OpenAlert]]:
    """(escalations, breaches): escalations first, as they need a coordinator most."""
    return [a for a in alerts if a.escalated], [a for a in alerts if not a.escalated]
