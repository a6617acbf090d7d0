"""What people ask the router to do, as plain commands (the HTTP shapes are mapped to these)."""

from __future__ import annotations

from dataclasses import dataclass

from hub_common.fhir.task_outputs import Outcomes
from hub_common.security.audit import AuditEntry
from hub_router.domain.access import Viewer
from hub_router.domain.task_status import BusinessStatus, TaskStatus


@dataclass(frozen=True)
class AcceptOffer:
    """The offered link worker takes the referral on."""

    referral_id: str
    worker_id: str
    traceparent: str | None = None
    audit: AuditEntry | None = None  # staged with the change, in its transaction


@dataclass(frozen=True)
class DeclineOffer:
    """The offered link worker turns the referral down; it goes to the next best worker."""

    referral_id: str
    worker_id: str
    reason: str
    traceparent: str | None = None
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class ChangeTaskStatus:
    """The owner records progress: a new status and/or businessStatus, a reason, outputs."""

    referral_id: str
    worker_id: str
    status: TaskStatus | None
    business_status: BusinessStatus | None
    reason: str | None = None
    outputs: Outcomes | None = None
    traceparent: str | None = None
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class CancelReferral:
    """The referring organisation withdraws its referral, saying why."""

    referral_id: str
    organisation: str  # `system|value` of the caller's organisation: it must be the requester
    reason: str
    traceparent: str | None = None
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class AssignByHand:
    """A coordinator offers a requested referral in their boroughs to a worker they choose."""

    referral_id: str
    worker_id: str
    coordinator: str
    scope: Viewer
    traceparent: str | None = None
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class RebalanceWaiting:
    """A coordinator offers the referrals waiting in their boroughs, all at once, optimally."""

    coordinator: str
    scope: Viewer
    limit: int = 500
    audit: AuditEntry | None = None  # names the referrals offered, once they are known
