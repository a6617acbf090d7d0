"""A referral's progress as its referrer sees it: the milestones reached, and when.

Given the Task's history (the notifier's `GET /fhir/Task/<id>/_history`), each milestone's time
is that of the first version that reached it. Without it (a list of many referrals), the
timeline comes from the latest Task alone: when it was sent (`authoredOn`), every milestone its
current status implies, and the current one with its time (`lastModified`). Reached milestones
whose time is unknown say so rather than guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub_common.fhir.task_status import CLOSED, CONTACT_MADE
from hub_common.fhir.task_status import BusinessStatus as B
from hub_common.fhir.task_status import TaskStatus as S
from hub_web.domain.tasks import TaskView

CONTACT_STEPS = CONTACT_MADE
ENDED = CLOSED - {S.REJECTED}
"""Closed after acceptance at intake (a refusal at intake has a page of its own)."""


@dataclass(frozen=True)
class Milestone:
    """One step of the referral's journey."""

    label: str
    reached: bool
    at: datetime | None = None
    current: bool = False


def _current_milestone(task: TaskView) -> str:
    if task.status == S.REQUESTED:
        return "waiting" if task.step == B.AWAITING_ALLOCATION else "offered"
    if task.status in ENDED:
        return "closed"
    if task.step in CONTACT_STEPS:
        return "contact"
    return "accepted"


def _closing_label(task: TaskView) -> str:
    labels: dict[str, str] = {
        S.COMPLETED: "Completed",
        S.FAILED: "Closed without success",
        S.CANCELLED: "Cancelled",
        S.ENTERED_IN_ERROR: "Withdrawn (entered in error)",
    }
    return labels.get(task.status, "Completed")


ORDER = ("received", "offered", "accepted", "contact", "closed")


def _reached_at(history: Sequence[TaskView]) -> dict[str, datetime]:
    """When each milestone was first reached, from the Task's versions (any order)."""
    timed = sorted(
        ((v.last_modified, v) for v in history if v.last_modified is not None),
        key=lambda pair: pair[0],
    )
    reached: dict[str, datetime] = {}
    for at, version in timed:
        current = _current_milestone(version)
        position = ORDER.index("offered" if current == "waiting" else current)
        for key in ORDER[1 : position + 1]:
            contact = version.step in CONTACT_STEPS or version.status == S.COMPLETED
            if key != "contact" or contact:
                reached.setdefault(key, at)
    return reached


def timeline(task: TaskView, history: Sequence[TaskView] = ()) -> list[Milestone]:
    """Every milestone of a referral accepted at intake, reached or still ahead."""
    current = _current_milestone(task)
    waiting = current == "waiting"
    current = "offered" if waiting else current  # waiting takes the offer's place
    order = list(ORDER)
    position = order.index(current)
    reached_at = _reached_at(history)
    contact_made = task.step in CONTACT_STEPS or task.status == S.COMPLETED
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
        elif key in reached_at:
            at = reached_at[key]
        elif key == current:
            at = task.last_modified
        elif key == "contact" and reached and first_contact:
            at = first_contact
        milestones.append(Milestone(labels[key], reached, at if reached else None, key == current))
    return milestones
