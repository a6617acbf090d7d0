"""What a change that chooses a link worker sees: the active workers, their loads by day, and
who holds each person's other open referral, read once with the assignment lock held of every
worker it could offer to (`task_repository.lock_workers`: those covering the referrals' areas),
and kept current in memory as offers are made (nobody else can add to those workers' loads
meanwhile; other workers' loads may move, but the change never offers to them).

`RoutingUnitOfWork` is a batch of new referrals (`hub_common.messaging.batch`): one transaction, the
batch's look-ups, and its new Tasks written together at its end. `LiveAssignments` is one
change to existing Tasks (a decline, expired offers), reading continuity row by row, since the
Task it moves is itself still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from hub_common.messaging.batch import BatchUnitOfWork
from hub_common.observability.metrics import count_on_commit
from hub_router.adapters import task_repository as repo
from hub_router.adapters.batch_lookups import BatchLookups
from hub_router.adapters.deferred_writes import DeferredWrites
from hub_router.adapters.tasks import TaskRepository
from hub_router.adapters.unit_of_work import RouterUnitOfWork, Sessions
from hub_router.adapters.worker_roster import WorkerRoster
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute

LOOKAHEAD_DAYS = 7  # a referral arriving on a day off is offered to whoever works soonest


class Counts(Protocol):
    def count(self, counter: Any, amount: float = 1) -> None:
        """Increment a metric once the transaction commits."""


class Assignments(Counts, Protocol):
    """The directory and the loads as one change sees them while it holds the lock."""

    workers: list[LinkWorker]
    loads: dict[date, dict[str, Load]]

    @property
    def changes(self) -> RouterUnitOfWork | None:
        """Where a change to a Task the router holds is recorded (None: only new Tasks)."""

    @property
    def deferred(self) -> DeferredWrites | None:
        """Where new Tasks are collected for the batch to write together, if they are."""

    async def continuity_worker(self, route: ReferralToRoute) -> str | None: ...

    def took(self, stored: repo.StoredTask) -> None: ...


def count_offer(loads: dict[date, dict[str, Load]], stored: repo.StoredTask) -> None:
    """One more open referral for its worker, one more new one on its offer day."""
    owner = stored.task.owner
    if owner is None:
        return
    for day, by_worker in loads.items():
        load = by_worker.get(owner, Load())
        extra_today = 1 if day == stored.offered_on else 0
        by_worker[owner] = Load(active=load.active + 1, new_today=load.new_today + extra_today)


class LiveAssignments:
    """For a change to Tasks the router holds already; the caller holds the assignment lock."""

    deferred: DeferredWrites | None = None

    def __init__(
        self, uow: RouterUnitOfWork, workers: list[LinkWorker], loads: dict[date, dict[str, Load]]
    ) -> None:
        self._uow = uow
        self.workers = workers
        self.loads = loads

    @property
    def changes(self) -> RouterUnitOfWork:
        return self._uow

    def count(self, counter: Any, amount: float = 1) -> None:
        self._uow.count(counter, amount)

    @classmethod
    async def read(
        cls,
        uow: RouterUnitOfWork,
        roster: WorkerRoster,
        today: date,
        routes: Sequence[ReferralToRoute],
    ) -> LiveAssignments:
        """Taken before any load is read, after any Task row lock."""
        workers = await uow.tasks.lock_for(roster, routes)
        return cls(uow, workers, await uow.tasks.loads_by_day(today, LOOKAHEAD_DAYS))

    async def continuity_worker(self, route: ReferralToRoute) -> str | None:
        return await self._uow.tasks.continuity_worker(route)

    def took(self, stored: repo.StoredTask) -> None:
        count_offer(self.loads, stored)


class RoutingUnitOfWork(BatchUnitOfWork):
    """A batch of new referrals: `routes` and `event_ids` are what it looks up at its start."""

    workers: list[LinkWorker]
    loads: dict[date, dict[str, Load]]
    lookups: BatchLookups
    deferred: DeferredWrites
    changes: RouterUnitOfWork | None = None  # a batch only creates Tasks (in `deferred`)

    def __init__(
        self,
        sessions: Sessions,
        roster: WorkerRoster,
        today: date,
        routes: Sequence[ReferralToRoute],
        event_ids: Sequence[str],
    ) -> None:
        super().__init__(sessions)
        self._roster = roster
        self._today = today
        self._routes = routes
        self._event_ids = event_ids

    async def start(self) -> None:
        self.workers = await TaskRepository(self.session).lock_for(self._roster, self._routes)
        self.loads = await repo.loads_by_day(self.session, self._today, LOOKAHEAD_DAYS)
        self.lookups = await BatchLookups.load(self.session, self._routes, self._event_ids)
        self.deferred = DeferredWrites()

    async def continuity_worker(self, route: ReferralToRoute) -> str | None:
        return self.lookups.continuity_worker(route)

    def count(self, counter: Any, amount: float = 1) -> None:
        count_on_commit(self.session, counter, amount)

    def took(self, stored: repo.StoredTask) -> None:
        if stored.task.owner is not None:
            self.lookups.offered(stored.episode_id, stored.task.owner)
        count_offer(self.loads, stored)

    async def flush(self) -> None:
        # BatchConflict when another replica created one of these Tasks meanwhile.
        await self.deferred.write(self.session)

    def remember(self) -> Any:
        loads = {day: dict(by_worker) for day, by_worker in self.loads.items()}
        return self.lookups.remember(), loads, self.deferred.remember()

    def forget(self, mark: Any) -> None:
        lookups, loads, deferred = mark
        self.lookups.forget(lookups)
        self.loads = loads
        self.deferred.forget(deferred)
