"""The FHIR Task status machine of a referral (contract: DESIGN.md). No other move is allowed."""

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
