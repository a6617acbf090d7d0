"""The FHIR Task status machine of a referral (contract: docs/contract.md). No other move is allowed."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    FAILED = "failed"
    ENTERED_IN_ERROR = "entered-in-error"


S = TaskStatus
ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.REQUESTED: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.ENTERED_IN_ERROR: frozenset(),
}

NEEDS_REASON = frozenset({S.REJECTED, S.CANCELLED, S.ON_HOLD, S.FAILED})
"""Moving into these requires `statusReason.text`."""

OPEN = frozenset({S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
"""Statuses in which a referral counts towards its link worker's caseload."""


class TransitionRefused(ValueError):
    """A status change the status machine does not allow, with the reason in words."""


def check_transition(current: TaskStatus, new: TaskStatus, reason: str | None) -> None:
    """Raise TransitionRefused unless `current -> new` is allowed (any -> entered-in-error is)."""
    if new is not S.ENTERED_IN_ERROR and new not in ALLOWED[current]:
        allowed = ", ".join(sorted(ALLOWED[current])) or "none: it is final"
        raise TransitionRefused(f"a Task cannot move from {current} to {new}; allowed: {allowed}")
    if current is S.ENTERED_IN_ERROR:
        raise TransitionRefused("a Task entered in error cannot change again")
    if new in NEEDS_REASON and not (reason and reason.strip()):
        raise TransitionRefused(f"moving a Task to {new} needs a reason (statusReason.text)")


class BusinessStatus(StrEnum):
    """The finer step within a status (Task.businessStatus; contract: docs/contract.md)."""

    AWAITING_ALLOCATION = "awaiting-allocation"
    OFFERED = "offered"
    ALLOCATED = "allocated"
    CONTACT_ATTEMPTED = "contact-attempted"
    FIRST_CONTACT_MADE = "first-contact-made"
    CONNECTED_TO_SERVICES = "connected-to-services"
    UNABLE_TO_CONTACT = "unable-to-contact"
    DECLINED_BY_PERSON = "declined-by-person"


B = BusinessStatus
ROUTER_STEPS = frozenset({B.AWAITING_ALLOCATION, B.OFFERED})
"""Steps only the router sets: a link worker moves an offer with accept or decline instead."""

WORKER_STEPS = frozenset(B) - ROUTER_STEPS

STEPS: dict[TaskStatus, frozenset[BusinessStatus]] = {
    S.REQUESTED: ROUTER_STEPS,
    S.ACCEPTED: frozenset({B.ALLOCATED, B.CONTACT_ATTEMPTED}),
    S.IN_PROGRESS: frozenset(
        {B.ALLOCATED, B.CONTACT_ATTEMPTED, B.FIRST_CONTACT_MADE, B.CONNECTED_TO_SERVICES}
    ),
    # Waiting on the person: contact may not have been made yet, or may have stopped.
    S.ON_HOLD: frozenset(
        {
            B.ALLOCATED,
            B.CONTACT_ATTEMPTED,
            B.FIRST_CONTACT_MADE,
            B.CONNECTED_TO_SERVICES,
            B.UNABLE_TO_CONTACT,
        }
    ),
    # Completing means the person was reached; otherwise the Task failed.
    S.COMPLETED: frozenset({B.FIRST_CONTACT_MADE, B.CONNECTED_TO_SERVICES}),
    S.FAILED: frozenset(
        {
            B.ALLOCATED,
            B.CONTACT_ATTEMPTED,
            B.FIRST_CONTACT_MADE,
            B.UNABLE_TO_CONTACT,
            B.DECLINED_BY_PERSON,
        }
    ),
    # Stopping keeps whatever step the Task had reached.
    S.CANCELLED: frozenset(B),
    S.REJECTED: frozenset(B),
    S.ENTERED_IN_ERROR: frozenset(B),
}
"""Which steps make sense in which status; a change that pairs them otherwise is refused."""


def check_step(status: TaskStatus, step: BusinessStatus) -> None:
    """Raise TransitionRefused unless `step` is a business status a Task in `status` can have."""
    if step not in STEPS[status]:
        allowed = ", ".join(sorted(STEPS[status] & WORKER_STEPS)) or "none a link worker sets"
        raise TransitionRefused(
            f"businessStatus {step} does not go with status {status}; allowed: {allowed}"
        )
