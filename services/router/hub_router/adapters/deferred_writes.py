"""The new Tasks of one routing batch, written together when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.messaging.batch import BatchConflict
from hub_common.messaging.failures import sqlstate_of
from hub_common.messaging.outbox import OutgoingEvent, staged
from hub_common.storage.batch_insert import BatchTable, insert_batch
from hub_router.adapters import orm

UNIQUE_VIOLATION = "23505"

NEW_TASKS = BatchTable(
    orm.tasks,
    (
        "referral_id",
        "episode_id",
        "owner",
        "status",
        "business_status",
        "version",
        "offered_on",
        "offer_expires_at",
        "offers",
        "failed_offers",
        "facts",
        "task",
    ),
)
NEW_DECISIONS = BatchTable(orm.decisions, ("referral_id", "record"))


@dataclass
class DeferredWrites:
    """The new Tasks of one routing batch, their decisions and their events, written together
    when it ends, in ONE statement (`hub_common.storage.batch_insert`) instead of three round
    trips per referral (the router's largest cost under load; an executemany still cost
    PostgreSQL a statement per row per table).
    Safe because nothing in the batch reads these rows back: it keeps its own view of loads and
    of the referrals it holds. With a savepoint per referral (`hub_common.messaging.batch`), each
    referral's are written inside its own savepoint instead."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    events: list[OutgoingEvent] = field(default_factory=list)

    async def write(self, session: AsyncSession) -> None:
        """Write what was collected, and forget it (the next message collects afresh). A Task
        created meanwhile by another replica raises BatchConflict (the batch is looked at again),
        and nothing of the statement is written."""
        tasks, decisions, events = self.tasks, self.decisions, self.events
        self.tasks, self.decisions, self.events = [], [], []
        try:
            await insert_batch(
                session,
                [
                    (NEW_TASKS, tasks),
                    (NEW_DECISIONS, decisions),
                    # Last, after the rows: the events keep the batch's order in the outbox.
                    staged(session, orm.outbox, events),
                ],
            )
        except IntegrityError as error:
            if sqlstate_of(error) != UNIQUE_VIOLATION:
                raise
            # Another replica created one of these Tasks meanwhile (the directory changed
            # between the two, so they held different locks): look again, finding it held.
            raise BatchConflict("a Task of the batch was created meanwhile") from error

    def remember(self) -> tuple[int, int, int]:
        return len(self.tasks), len(self.decisions), len(self.events)

    def forget(self, mark: tuple[int, int, int]) -> None:
        del self.tasks[mark[0] :], self.decisions[mark[1] :], self.events[mark[2] :]
