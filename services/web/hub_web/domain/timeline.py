"""A referral's progress as its referrer sees it: the milestones reached, and when.

No API gives a Task's past versions (the notifier keeps them but serves only the latest), so
the timeline is built from the latest Task: when it was sent (`authoredOn`), every milestone
its current status implies was reached, and the current one with its time (`lastModified`).
Reached milestones whose time is unknown say so rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub_web.domain.tasks import TaskView

AFTER_ACCEPTANCE = frozenset({"accepted", "in-progress", "on-hold", "completed", "failed"})
CONTACT_STEPS = frozenset({"first-contact-made", "connected-to-services"})


@dataclass(frozen=True)
class Milestone:
    """One step of the referral's journey."""

    label: str
    reached: bool
    at: datetime | None = None
    current: bool = False


def _current_milestone(task: TaskView) -> str:
    if task.status == "requested":
        return "waiting" if task.step == "awaiting-allocation" else "offered"
    if task.status in ("completed", "failed", "cancelled", "entered-in-error"):
        return "closed"
    if task.step in CONTACT_STEPS:
        return "contact"
    return "accepted"


def _closing_label(task: TaskView) -> str:
    return {
        "completed": "Completed",
        "failed": "Closed without success",
        "cancelled": "Cancelled",
        "entered-in-error": "Withdrawn (entered in error)",
    }.get(task.status, "Completed")


def timeline(task: TaskView) -> list[Milestone]:
    """Every milestone of a referral accepted at intake, reached or still ahead."""
    current = _current_milestone(task)
    waiting = current == "waiting"
    current = "offered" if waiting else current  # waiting takes the offer's place
    order = ["received", "offered", "accepted", "contact", "closed"]
    position = order.index(current)
    contact_made = task.step in CONTACT_STEPS or task.status == "completed"
    first_contact = task.first_contact_measured_at
    labels = {
        "received": "Referral received by the hub",
        "offered": "Waiting for a coordinator to allocate a link worker"
        if waiting
        else "Offered to a link worker",
        "accepted": "Accepted by a link worker",
        "contact": "First contact made with the person",
        "closed": _closing_label(task),
    }
    milestones = []
    for index, key in enumerate(order):
        reached = index <= position and (key != "contact" or contact_made)
        at = None
        if key == "received":
            at = task.authored_on
        elif key == current:
            at = task.last_modified
        elif key == "contact" and reached and first_contact:
            at = first_contact
        milestones.append(Milestone(labels[key], reached, at if reached else None, key == current))
    return milestones
