"""What came of each referral in a message, as the entrypoints answer it and the audit records it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hub_common.security.audit import AuditEntry
from hub_intake.adapters.formats.base import UnreadableMessage


@dataclass(frozen=True)
class Outcome:
    """What happened to one referral in a message."""

    status: Literal["accepted", "duplicate", "rejected"]
    referral_id: str | None
    referrer_reference: str | None
    item: str | None
    outcome: dict[str, Any]  # FHIR OperationOutcome (warnings too, for accepted ones)
    resource: dict[str, Any] | None = None  # the ServiceRequest, accepted or resent

    @property
    def is_conflict(self) -> bool:
        """Refused for clashing with what the hub holds (HTTP 409), not for its content."""
        return self.status == "rejected" and any(
            issue.get("code") in ("conflict", "duplicate")
            for issue in self.outcome.get("issue", [])
        )


def submission_audit(entry: AuditEntry, result: list[Outcome] | Exception) -> AuditEntry:
    """The audit entry of one HTTP submission: the referrals it created (or resent), and what
    came of it. Refused referrals have no hub id yet; the entry still says one was sent."""
    if isinstance(result, Exception):
        return entry.about(
            (), "unreadable" if isinstance(result, UnreadableMessage) else "set-aside"
        )
    statuses = {outcome.status for outcome in result}
    word = next((s for s in ("accepted", "duplicate") if s in statuses), "rejected")
    return entry.about([o.referral_id for o in result if o.referral_id], word)
