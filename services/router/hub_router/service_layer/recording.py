"""One way to record a Task change: the row, its snapshot, the decision, and what happened
(the new Task version, the alert) recorded in the unit of work, so the change and its events
commit together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.messaging.topics import Topics
from hub_router.adapters import task_repository as repo
from hub_router.adapters.deferred_writes import DeferredWrites
from hub_router.adapters.outgoing import to_outgoing
from hub_router.adapters.unit_of_work import RouterUnitOfWork
from hub_router.domain.events import ReferralSetWaiting, RouterEvent, TaskRecorded
from hub_router.service_layer.sla import track_change

__all__ = ["TaskChanged", "record_change"]


@dataclass(frozen=True)
class TaskChanged:
    """A change recorded: the new state, and the Task snapshot staged for publication."""

    stored: repo.StoredTask
    snapshot: dict[str, Any]


async def record_change(
    uow: RouterUnitOfWork | None,
    topics: Topics,
    before: repo.StoredTask | None,
    after: repo.StoredTask,
    now: datetime,
    traceparent: str | None,
    *,
    decision: dict[str, Any] | None = None,
    alert: dict[str, Any] | None = None,
    deferred: DeferredWrites | None = None,
) -> TaskChanged:
    """Save `after` (one version above `before`) and record its new version. A new Task with
    `deferred` given is only collected there, for the batch to write with the others."""
    snapshot = repo.snapshot_of(after, now)
    referral_id = after.task.referral_id
    events: list[RouterEvent] = [TaskRecorded(referral_id, snapshot, traceparent)]
    if alert is not None:
        events.append(ReferralSetWaiting(referral_id, alert, traceparent))
    if deferred is not None and before is None:
        deferred.tasks.append(repo.new_row(after, snapshot))
        if decision is not None:
            deferred.decisions.append({"referral_id": referral_id, "record": decision})
        deferred.events.extend(to_outgoing(topics, event) for event in events)
        return TaskChanged(after, snapshot)
    if uow is None:
        raise AssertionError("a change to a Task the router holds needs its unit of work")
    await uow.tasks.save(before, after, snapshot)
    if decision is not None:
        await uow.tasks.add_decision(referral_id, decision)
    uow.record(*events)
    if before is not None:  # acceptance, first contact and closure move the service levels
        await track_change(uow, before, after, now, traceparent)
    return TaskChanged(after, snapshot)
