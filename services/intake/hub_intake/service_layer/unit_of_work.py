"""The intake's unit of work: one transaction, its repositories, and the events it stages.

A use case reads and writes through the repositories (`referrals`, `rejections`) and stages
its outgoing events with `stage`; the unit of work writes the batch's new referrals and then
its events to the outbox when the batch ends (or a message ends, with savepoints: see
`hub_common.batch`), so a change and its events commit together, events last (add_to_outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.batch import BatchUnitOfWork
from hub_common.outbox import OutgoingEvent, add_to_outbox
from hub_intake.adapters import orm
from hub_intake.adapters.known_referrals import Referrals
from hub_intake.adapters.rejection_store import Rejections
from hub_intake.domain.referral import Referral


class IntakeUnitOfWork(BatchUnitOfWork):
    """A batch's transaction on PostgreSQL; `wanted` are the referrals it looks up at start."""

    referrals: Referrals
    rejections: Rejections

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], wanted: Sequence[Referral] = ()
    ) -> None:
        super().__init__(sessions)
        self._wanted = wanted
        self._events: list[OutgoingEvent] = []

    async def start(self) -> None:
        self.referrals = await Referrals.load(self.session, self._wanted)
        self.rejections = Rejections(self.session)

    def stage(self, *events: OutgoingEvent) -> None:
        """Events to publish if the batch commits, in this order."""
        self._events.extend(events)

    async def flush(self) -> None:
        await self.referrals.flush()
        # Last, after every row they report on is written (see add_to_outbox).
        events, self._events = self._events, []
        await add_to_outbox(self.session, orm.outbox, events)

    def remember(self) -> Any:
        return self.referrals.remember(), len(self._events)

    def forget(self, mark: Any) -> None:
        referrals, events = mark
        self.referrals.forget(referrals)
        del self._events[events:]
