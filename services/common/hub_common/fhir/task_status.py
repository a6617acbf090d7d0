"""The status vocabulary of a referral's FHIR Task, shared by every service (docs/contract.md).

The statuses, the business statuses (the finer step within a status), the allowed moves and
which of them need a reason live here once: the router enforces them, the web app offers only
the moves they allow, the notifier words them in e-mails, and the router's partial indexes are
written from the same sets (`sql_in`). Nothing else spells a status by hand:
`tests/unit/test_status_vocabulary.py` fails if a service does.

Changing a set an index predicate is made from (OPEN) needs a new migration that re-creates
that index: databases already upgraded keep the predicate they were built with.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar


class TaskStatus(StrEnum):
    """A referral's FHIR Task status, listed in the order of a referral's life (contract: the
    Task status machine)."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
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

WORKING = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
"""Accepted and not closed: a link worker is working with the person."""

CLOSED = frozenset(status for status, moves in ALLOWED.items() if not moves)
"""Final statuses: no move leads out of them (but to entered-in-error)."""


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

CONTACT_MADE = frozenset({B.FIRST_CONTACT_MADE, B.CONNECTED_TO_SERVICES})
"""Steps that say the person was reached (first contact is made, or more)."""

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


_Status = TypeVar("_Status", TaskStatus, BusinessStatus)
_LIFE_ORDER = {value: n for n, value in enumerate([*TaskStatus, *BusinessStatus])}


def in_order(statuses: Iterable[_Status]) -> tuple[_Status, ...]:
    """The statuses (or steps) in the order they are declared: a referral's life, for pages."""
    return tuple(sorted(statuses, key=_LIFE_ORDER.__getitem__))


def sql_in(
    column: str,
    statuses: frozenset[TaskStatus] | frozenset[BusinessStatus],
    *,
    negate: bool = False,
) -> str:
    """`column IN ('a', 'b')` (or `NOT IN`), sorted, written out for a partial index's predicate.

    Written out rather than bound: PostgreSQL uses a partial index only where it can prove the
    query implies the index's condition, which it cannot from a prepared statement's parameters.
    """
    return (
        f"{column} {'NOT IN' if negate else 'IN'} ("
        + ", ".join(f"'{s.value}'" for s in sorted(statuses))
        + ")"
    )
