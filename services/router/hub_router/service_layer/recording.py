"""One way to record a Task change: the row, its snapshot, the decision and the alert, staged in
the outbox in the caller's transaction, so the change and its events commit together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.systems import FHIR_JSON, PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics
from hub_router.adapters import orm
from hub_router.adapters import task_repository as repo
from hub_router.service_layer.sla import track_change


@dataclass(frozen=True)
class TaskChanged:
    """A change recorded: the new state, and the Task snapshot staged for publication."""

    stored: repo.StoredTask
    snapshot: dict[str, Any]


@dataclass
class DeferredWrites:
    """The new Tasks of one routing batch, written together when it ends: three multi-row
    INSERTs instead of three round trips per referral (the router's largest cost under load).
    Safe because nothing in the batch reads these rows back: it keeps its own view of loads and
    of the referrals it holds. With a savepoint per referral (`hub_common.messaging.batch`), each
    referral's are written inside its own savepoint instead."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    events: list[OutgoingEvent] = field(default_factory=list)

    async def write(self, session: AsyncSession) -> None:
        """Write what was collected, and forget it (the next message collects afresh)."""
        tasks, decisions, events = self.tasks, self.decisions, self.events
        self.tasks, self.decisions, self.events = [], [], []
        if tasks:
            await session.execute(insert(orm.tasks), tasks)
        if decisions:
            await session.execute(insert(orm.decisions), decisions)
        # Last, after the rows: the events keep the batch's order in the outbox.
        await add_to_outbox(session, orm.outbox, events)

    def remember(self) -> tuple[int, int, int]:
        return len(self.tasks), len(self.decisions), len(self.events)

    def forget(self, mark: tuple[int, int, int]) -> None:
        del self.tasks[mark[0] :], self.decisions[mark[1] :], self.events[mark[2] :]


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
    deferred: DeferredWrites | None = None,
) -> TaskChanged:
    """Save `after` (one version above `before`) and stage its Task snapshot. A new Task with
    `deferred` given is only collected there, for the batch to write with the others."""
    snapshot = repo.snapshot_of(after, now)
    referral_id = after.task.referral_id
    if deferred is not None and before is None:
        deferred.tasks.append(repo.new_row(after, snapshot))
        if decision is not None:
            deferred.decisions.append({"referral_id": referral_id, "record": decision})
        deferred.events.extend(_events(topics, referral_id, snapshot, alert, traceparent))
        return TaskChanged(after, snapshot)
    await repo.save(session, before, after, snapshot)
    if decision is not None:
        await session.execute(
            insert(orm.decisions).values(referral_id=referral_id, record=decision)
        )
    # Last, after the row is written under its lock: a referral's later change gets a later seq.
    await add_to_outbox(
        session, orm.outbox, _events(topics, referral_id, snapshot, alert, traceparent)
    )
    if before is not None:  # acceptance, first contact and closure move the service levels
        await track_change(session, topics, before, after, now, traceparent)
    return TaskChanged(after, snapshot)


def _events(
    topics: Topics,
    referral_id: str,
    snapshot: dict[str, Any],
    alert: dict[str, Any] | None,
    traceparent: str | None,
) -> list[OutgoingEvent]:
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
    return events
