"""The personalised care and support plan a link worker agrees with the person. Pure.

NHS England's personalised care model, and the PRSB Social Prescribing Information Standard's
"care and support plan" section: what matters to the person (in their words), the goals they
set, and the actions agreed (who does what, by when). The plan belongs to one referral; every
change is a new version, so what was agreed when is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from hub_common.fhir.needs import NeedCategory

MAX_TEXT = 1000
MAX_ITEMS = 20


class ActionBy(StrEnum):
    """Who carries an action out."""

    PERSON = "person"
    LINK_WORKER = "link-worker"
    SERVICE = "service"  # a community organisation or service the person is connected to


class PlanRefused(ValueError):
    """A plan that cannot be recorded, with the reason in words and the field it concerns."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field_path = field_path


@dataclass(frozen=True)
class Goal:
    """Something the person wants to achieve, in their words, with the need it answers."""

    description: str
    need: NeedCategory | None = None
    target_date: date | None = None
    achieved: bool = False


@dataclass(frozen=True)
class Action:
    """A step agreed to reach the goals."""

    description: str
    by: ActionBy
    due: date | None = None
    done: bool = False


@dataclass(frozen=True)
class CarePlan:
    """One version of a referral's plan."""

    referral_id: str
    what_matters: str
    goals: tuple[Goal, ...] = ()
    actions: tuple[Action, ...] = ()
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str | None = None

    def check(self) -> CarePlan:
        """The plan itself, or PlanRefused naming the first field that is wrong."""
        _text("whatMatters", self.what_matters)
        if len(self.goals) > MAX_ITEMS:
            raise PlanRefused("goals", f"at most {MAX_ITEMS} goals")
        if len(self.actions) > MAX_ITEMS:
            raise PlanRefused("actions", f"at most {MAX_ITEMS} actions")
        for n, goal in enumerate(self.goals):
            _text(f"goals[{n}].description", goal.description)
        for n, action in enumerate(self.actions):
            _text(f"actions[{n}].description", action.description)
        return self


def _text(path: str, value: str) -> None:
    if not value.strip():
        raise PlanRefused(path, f"{path} must not be empty")
    if len(value) > MAX_TEXT:
        raise PlanRefused(path, f"{path} is longer than {MAX_TEXT} characters")


def next_version(current: CarePlan | None, expected_version: int | None) -> int:
    """The version a new plan gets; PlanConflict when it was written over a version the
    writer had not seen (optimistic concurrency: two devices, one plan)."""
    latest = current.version if current else 0
    if expected_version is not None and expected_version != latest:
        raise PlanConflict(
            f"the plan is at version {latest}, not {expected_version}: reload it and try again"
        )
    return latest + 1


class PlanConflict(ValueError):
    """The plan changed since the writer read it."""
