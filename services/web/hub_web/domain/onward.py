"""An onward referral (a Task owned by a community organisation, `partOf` the link worker's
Task) as the pages show it, and its ServiceRequest as the organisation reads it. Pure.

The link worker sees each one's status in words (requested, accepted, declined with the reason,
attended, no answer by the deadline); the organisation sees the same Task with what it may do
next, and, on its own referral's page, the person as the link worker chose to share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.fhir.task_status import TaskStatus as S
from hub_web.domain.tasks import parse_instant

ONWARD_STEP_LABELS = {
    "awaiting-response": "Requested: waiting for the service to answer",
    "accepted-by-service": "Accepted by the service",
    "attending": "Attending",
    "attended": "Attended",
    "did-not-attend": "Did not attend",
    "declined-by-service": "Declined by the service",
    "no-response": "No answer by the deadline",
}
CONSENT_METHODS = (
    ("verbal", "Said so (verbal)"),
    ("written", "In writing"),
    ("electronic", "Electronically (e-mail, text, online form)"),
)
ATTENDANCE_CHOICES = (
    ("attending", "Attending: has started"),
    ("attended", "Attended"),
    ("did-not-attend", "Did not attend"),
)


@dataclass(frozen=True)
class OnwardView:
    """One onward referral: where it went, its status in words, and what can happen next."""

    id: str
    referral_id: str | None  # the link worker's Task it is part of
    organisation: str
    status: str
    step: str
    label: str
    reason: str | None
    sent_at: datetime | None
    due_at: datetime | None

    @property
    def awaiting(self) -> bool:
        """The organisation has not answered yet: it may accept or decline."""
        return self.status == S.REQUESTED

    @property
    def can_record_attendance(self) -> bool:
        return self.status in (S.ACCEPTED, S.IN_PROGRESS)


def onward_view(task: dict[str, Any]) -> OnwardView:
    coding = (task.get("businessStatus") or {}).get("coding") or [{}]
    step = str(coding[0].get("code") or "")
    part_of = (task.get("partOf") or [{}])[0].get("reference") or ""
    period = (task.get("restriction") or {}).get("period") or {}
    return OnwardView(
        id=str(task.get("id") or ""),
        referral_id=part_of.removeprefix("Task/") or None,
        organisation=str((task.get("owner") or {}).get("display") or "a community service"),
        status=str(task.get("status") or ""),
        step=step,
        label=ONWARD_STEP_LABELS.get(step, step or "Not known"),
        reason=(task.get("statusReason") or {}).get("text"),
        sent_at=parse_instant(task.get("authoredOn")),
        due_at=parse_instant(period.get("end")),
    )


@dataclass(frozen=True)
class OnwardRequestView:
    """What the organisation is told: the person, how to reach them, the need, the note."""

    service: str
    person: str
    phone: str | None
    email: str | None
    need: str
    note: str | None
    consent: str | None


def onward_request_view(request: dict[str, Any]) -> OnwardRequestView:
    contained = {r.get("resourceType"): r for r in request.get("contained") or []}
    patient = contained.get("Patient") or {}
    telecom = {t.get("system"): t.get("value") for t in patient.get("telecom") or []}
    consent = contained.get("Consent") or {}
    reasons = request.get("reasonCode") or [{}]
    notes = request.get("note") or [{}]
    return OnwardRequestView(
        service=str((request.get("code") or {}).get("text") or ""),
        person=str(((patient.get("name") or [{}])[0]).get("text") or "Name not given"),
        phone=telecom.get("phone"),
        email=telecom.get("email"),
        need=str(reasons[0].get("text") or ""),
        note=notes[0].get("text"),
        consent=(consent.get("policyRule") or {}).get("text"),
    )
