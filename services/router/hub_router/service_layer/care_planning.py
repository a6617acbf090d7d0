"""Recording and reading a referral's personalised care and support plan.

The worker who holds the referral records the plan while working with the person (accepted,
in progress or on hold); they and the coordinators of the person's borough read it. Each
recording is a new version, refused when written over a version the writer had not seen.
Reads and writes are audited; the plan is never published (it is the person's own words).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.messaging.topics import Topics
from hub_common.security.audit import AuditEntry
from hub_router.adapters.fhir_care_plan import to_care_plan
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.domain.access import Viewer
from hub_router.domain.care_plan import Action, CarePlan, Goal, next_version
from hub_router.domain.offers import TaskNotVisible
from hub_router.domain.task_status import TaskStatus, TransitionRefused
from hub_router.service_layer.restriction import refuse_if_restricted

WORKING = frozenset({TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS, TaskStatus.ON_HOLD})


@dataclass(frozen=True)
class RecordCarePlan:
    """The holder of a referral records a new version of its plan."""

    referral_id: str
    worker_id: str
    what_matters: str
    goals: tuple[Goal, ...]
    actions: tuple[Action, ...]
    expected_version: int | None = None  # If-Match: the version the writer is replacing
    audit: AuditEntry | None = None


class CarePlanning:
    """The care plan use cases; each call is one transaction."""

    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        units: Units | None = None,
    ) -> None:
        self._units = units_for(sessions, topics, units)
        self._topics = topics
        self._clock = clock

    async def record(self, command: RecordCarePlan) -> dict[str, Any]:
        async with self._units() as uow:
            stored = await uow.tasks.lock(command.referral_id)
            if stored is None or stored.task.owner != command.worker_id:
                raise TaskNotVisible(command.referral_id)
            await refuse_if_restricted(uow, stored)
            if stored.task.status not in WORKING:
                raise TransitionRefused(
                    "a plan is recorded while the referral is accepted, in progress or on hold "
                    f"(it is {stored.task.status})"
                )
            current = await uow.care_plans.versions(command.referral_id, newest_only=True)
            plan = CarePlan(
                referral_id=command.referral_id,
                what_matters=command.what_matters,
                goals=command.goals,
                actions=command.actions,
                version=next_version(current[0] if current else None, command.expected_version),
                recorded_at=self._clock(),
                recorded_by=command.worker_id,
            ).check()
            await uow.care_plans.add(plan)
            if command.audit is not None:
                uow.record(command.audit)
        return to_care_plan(plan, stored.episode_id, stored.task.owner)

    async def read(
        self, viewer: Viewer, referral_id: str, *, history: bool = False
    ) -> list[dict[str, Any]]:
        """The newest version (or every version, newest first) of a plan the caller may see;
        TaskNotVisible when the referral is not theirs, an empty list when there is no plan."""
        async with self._units() as uow:
            holder = await uow.queries.holder(viewer, referral_id)
            if holder is None:
                raise TaskNotVisible(referral_id)
            episode_id, owner = holder
            plans = await uow.care_plans.versions(referral_id, newest_only=not history)
        return [to_care_plan(plan, episode_id, owner) for plan in plans]
