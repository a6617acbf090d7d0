"""One way to record a Task change: the row, its snapshot, the decision and the alert, staged in
the outbox in the caller's transaction, so the change and its events commit together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.envelope import Envelope
from hub_common.fhir_systems import FHIR_JSON, PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.outbox import OutgoingEvent, add_to_outbox
from hub_common.topics import Topics
from hub_router.adapters import orm
from hub_router.adapters import task_repository as repo


@dataclass(frozen=True)
class TaskChanged:
    """A change recorded: the new state, and the Task snapshot staged for publication."""

    stored: repo.StoredTask
    snapshot: dict[str, Any]


async def record_change(
    session: AsyncSession,
    topics: Topics,
    before: repo.StoredTask | None,
    after: repo.StoredTask,
    now: datetime,
    traceparent: str | None,
    *,
    decision: dict[str, Any] | None = None,
    alert: dict[str, Any] | None = None,
) -> TaskChanged:
    """Save `after` (one version above `before`) and stage its Task snapshot."""
    snapshot = repo.snapshot_of(after, now)
    await repo.save(session, before, after, snapshot)
    referral_id = after.task.referral_id
    if decision is not None:
        await session.execute(
            insert(orm.decisions).values(referral_id=referral_id, record=decision)
        )
    events = [
        OutgoingEvent(
            topic=topics.tasks,
            key=referral_id,
            value=dumps(snapshot),
            envelope=Envelope.new("TaskChanged", FHIR_JSON, traceparent),
        )
    ]
    if alert is not None:
        events.append(
            OutgoingEvent(
                topic=topics.alerts,
                key=referral_id,
                value=dumps(alert),
                envelope=Envelope.new("ReferralAwaitingAllocation", PLAIN_JSON, traceparent),
            )
        )
    # Last, after the row is written under its lock: a referral's later change gets a later seq.
    await add_to_outbox(session, orm.outbox, events)
    return TaskChanged(after, snapshot)
