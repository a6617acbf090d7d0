"""The router's unit of work for its use cases (all but routing a batch of new referrals,
which has its own: `service_layer/unit_of_work.RoutingUnitOfWork`).

One transaction, the repositories bound to it, and the events the use case recorded
(`domain/events.py`, audit entries). The events become outbox rows when the use case ends
without an error, last in its transaction, after every row they report on is written under
its lock (so a referral's later change always gets a later outbox `seq`: add_to_outbox);
an error rolls back the rows and the events together. A fake (tests/support/fake_router.py)
keeps the same promises in memory, so the use cases are tested without PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics
from hub_common.observability.metrics import count_on_commit
from hub_router.adapters import orm
from hub_router.adapters.care_plan_store import CarePlanRepository
from hub_router.adapters.data_protection_store import ProtectionRepository
from hub_router.adapters.directory_store import DirectoryRepository
from hub_router.adapters.onward_store import OnwardRepository
from hub_router.adapters.outgoing import Recorded, to_outgoing
from hub_router.adapters.service_lookup import ServiceLookup
from hub_router.adapters.sla_clock import SlaClocks
from hub_router.adapters.task_queries import TaskQueries
from hub_router.adapters.tasks import TaskRepository
from hub_router.adapters.worker_roster import LinkWorkerRepository

Sessions = async_sessionmaker[AsyncSession]
"""Where the router's transactions come from (the service layer names it, never imports it)."""


class RouterUnitOfWork:
    """One transaction's repositories and the events recorded in it."""

    def __init__(
        self, session: AsyncSession, topics: Topics, lookup: ServiceLookup | None = None
    ) -> None:
        self._session = session
        self._topics = topics
        self._events: list[Recorded] = []
        self.tasks = TaskRepository(session)
        self.queries = TaskQueries(session)
        self.onward = OnwardRepository(session, lookup)
        self.care_plans = CarePlanRepository(session)
        self.directory = DirectoryRepository(session)
        self.sla = SlaClocks(session)
        self.protection = ProtectionRepository(session)
        self.workers = LinkWorkerRepository(session)

    def record(self, *events: Recorded) -> None:
        """Events to publish if the transaction commits, in this order."""
        self._events.extend(events)

    def count(self, counter: Any, amount: float = 1) -> None:
        """Increment a metric once the transaction commits (never for a rolled-back one)."""
        count_on_commit(self._session, counter, amount)

    def outgoing(self) -> list[OutgoingEvent]:
        """The recorded events as outbox rows, and forget them (they are being written)."""
        events, self._events = self._events, []
        return [to_outgoing(self._topics, event) for event in events]

    async def flush(self) -> None:
        await add_to_outbox(self._session, orm.outbox, self.outgoing())


Units = Callable[[], AbstractAsyncContextManager[RouterUnitOfWork]]
"""Opens a unit of work: `async with units() as uow:` commits when the block ends."""


def postgres_units(
    sessions: Sessions, topics: Topics, lookup: ServiceLookup | None = None
) -> Units:
    """Units of work on PostgreSQL: commit (with the events last) or roll back, whole."""

    @asynccontextmanager
    async def unit() -> AsyncIterator[RouterUnitOfWork]:
        async with sessions.begin() as session:
            uow = RouterUnitOfWork(session, topics, lookup)
            yield uow
            await uow.flush()

    return unit


def units_for(
    sessions: Sessions | None,
    topics: Topics,
    units: Units | None = None,
    lookup: ServiceLookup | None = None,
) -> Units:
    """`units` when given (tests: in memory), else units of work on `sessions`."""
    if units is not None:
        return units
    if sessions is None:  # a test of one use case, given its own unit of work

        def no_database() -> AbstractAsyncContextManager[RouterUnitOfWork]:
            raise AssertionError("this use case was given no database and no unit of work")

        return no_database
    return postgres_units(sessions, topics, lookup)
