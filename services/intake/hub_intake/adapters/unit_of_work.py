"""The intake's unit of work for its use cases other than receiving referrals (replaying
rejections, applying data protection requests); receiving has its batch one
(`service_layer/unit_of_work.IntakeUnitOfWork`).

One transaction, the repositories bound to it, and the events recorded in it, written to the
outbox last when the use case ends without an error (add_to_outbox), or rolled back with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_intake.adapters import orm
from hub_intake.adapters.erasure_store import ErasureRepository
from hub_intake.adapters.rejection_store import Rejections

Sessions = async_sessionmaker[AsyncSession]
"""Where the intake's transactions come from (the service layer names it, never imports it)."""


class IntakeChanges:
    """One transaction's repositories and the events recorded in it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._events: list[OutgoingEvent] = []
        self.rejections = Rejections(session)
        self.erasure = ErasureRepository(session)

    def record(self, *events: OutgoingEvent) -> None:
        """Events to publish if the transaction commits, in this order."""
        self._events.extend(events)

    def outgoing(self) -> list[OutgoingEvent]:
        events, self._events = self._events, []
        return events

    async def flush(self) -> None:
        await add_to_outbox(self._session, orm.outbox, self.outgoing())


Changes = Callable[[], AbstractAsyncContextManager[IntakeChanges]]
"""Opens a unit of work: `async with changes() as uow:` commits when the block ends."""


def postgres_changes(sessions: Sessions) -> Changes:
    @asynccontextmanager
    async def unit() -> AsyncIterator[IntakeChanges]:
        async with sessions.begin() as session:
            uow = IntakeChanges(session)
            yield uow
            await uow.flush()

    return unit


def changes_for(sessions: Sessions | None, changes: Changes | None = None) -> Changes:
    """`changes` when given (tests: in memory), else units of work on `sessions`."""
    if changes is not None:
        return changes
    if sessions is None:
        raise ValueError("the intake's use cases need a database or a unit of work")
    return postgres_changes(sessions)
