"""Which moves a link worker's forms offer from where a referral stands.

The router's status machine decides (it refuses anything else with a reason the page shows);
this only keeps the forms from offering moves that cannot work, mirroring the router's README.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_common.fhir import task_status as vocabulary
from hub_common.fhir.task_status import TaskStatus as S

NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    status: vocabulary.in_order(vocabulary.ALLOWED[status] - {S.COMPLETED})
    for status in vocabulary.WORKING
}
"""Moves offered by the generic form; completing has its own form, since it needs outcomes."""

WORKER_STEPS = vocabulary.in_order(vocabulary.WORKER_STEPS)

NEEDS_NOTE = vocabulary.NEEDS_REASON
"""Statuses the router accepts only with a reason (`statusReason.text`)."""

OPEN_STATUSES = vocabulary.in_order(vocabulary.OPEN)
"""Statuses that count towards a link worker's caseload (the router's rule)."""


@dataclass(frozen=True)
class Moves:
    """What the referral page offers for one Task."""

    statuses: tuple[str, ...]
    steps: tuple[str, ...]
    can_record_first_contact: bool
    can_complete: bool


def moves_from(status: str, step: str) -> Moves:
    """The forms to show for a Task held by the viewer in `status`, `step`."""
    open_after_acceptance = status in NEXT_STATUSES
    return Moves(
        statuses=NEXT_STATUSES.get(status, ()),
        steps=WORKER_STEPS if open_after_acceptance else (),
        can_record_first_contact=open_after_acceptance and step not in vocabulary.CONTACT_MADE,
        can_complete=open_after_acceptance and step in vocabulary.CONTACT_MADE,
    )
