"""The router's units of work kept in memory, for use-case tests without PostgreSQL.

`FakeRoutingUnitOfWork` (a batch of new referrals) keeps the promises routing relies on: the
batch commits whole or not at all, a referral's savepoint rolls back its own writes, event ids
are recorded as processed with the batch, and a worker's load counts the open Tasks they own
(new ones on their offer day). `memory_units` opens `FakeRouterUnitOfWork`s for every other use
case: each works on a copy of the tables, copied back (with its events, last, in the outbox)
only when the use case ends without an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hub_common.messaging.outbox import OutgoingEvent
from hub_common.messaging.topics import Topics
from hub_router.adapters import task_repository as repo
from hub_router.adapters.batch_lookups import BatchLookups
from hub_router.adapters.care_plan_store import CarePlanRepository
from hub_router.adapters.data_protection_store import ProtectionRepository
from hub_router.adapters.deferred_writes import DeferredWrites
from hub_router.adapters.directory_store import DirectoryRepository
from hub_router.adapters.onward_store import OPEN_ONWARD, OnwardRepository
from hub_router.adapters.service_lookup import ServiceEntry
from hub_router.adapters.sla_clock import SlaClocks
from hub_router.adapters.task_queries import TaskQueries
from hub_router.adapters.tasks import TaskRepository
from hub_router.adapters.unit_of_work import RouterUnitOfWork, Units
from hub_router.adapters.worker_roster import WorkerRoster
from hub_router.domain.access import Viewer
from hub_router.domain.care_plan import CarePlan
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.onward import OnwardReferral
from hub_router.domain.sla import SlaTimer
from hub_router.domain.task_status import OPEN, BusinessStatus, TaskStatus
from hub_router.service_layer.unit_of_work import LOOKAHEAD_DAYS, RoutingUnitOfWork
from tests.support.memory_uow import MemoryTransaction, copy_on_commit


@dataclass
class RouterTables:
    """What the router's database holds, as far as routing new referrals reads and writes."""

    workers: list[LinkWorker] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # referral id -> row
    decisions: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[OutgoingEvent] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)  # event ids
    commits: int = 0
    services: dict[str, ServiceEntry] = field(default_factory=dict)  # directory id -> entry
    places: dict[str, int] = field(default_factory=dict)  # HealthcareService id -> free
    onward: dict[str, dict[str, Any]] = field(default_factory=dict)  # onward id -> row
    care_plans: dict[str, list[CarePlan]] = field(default_factory=dict)  # newest last
    sla_timers: dict[str, tuple[SlaTimer, datetime | None]] = field(default_factory=dict)
    counted: list[tuple[str, ...]] = field(default_factory=list)  # metric labels, on commit
    restricted: set[str] = field(default_factory=set)  # referral and episode ids


def loads_of(tables: RouterTables, first_day: date, days: int) -> dict[date, dict[str, Load]]:
    """Each worker's load on each day, as `task_repository.loads_by_day` counts it."""
    result: dict[date, dict[str, Load]] = {}
    for ahead in range(days):
        day = first_day + timedelta(days=ahead)
        by_worker: dict[str, Load] = {}
        for row in tables.tasks.values():
            if row["owner"] and row["status"] in OPEN:
                load = by_worker.get(row["owner"], Load())
                new = 1 if row["offered_on"] == day else 0
                by_worker[row["owner"]] = Load(load.active + 1, load.new_today + new)
        result[day] = by_worker
    return result


class FakeRoutingUnitOfWork(MemoryTransaction, RoutingUnitOfWork):
    """Works on a copy of `store`'s tables, copied back when the batch commits."""

    def __init__(
        self,
        store: RouterTables,
        today: date,
        routes: Sequence[ReferralToRoute],
        event_ids: Sequence[str],
    ) -> None:
        super().__init__(None, None, today, routes, event_ids)  # type: ignore[arg-type]
        self._store = store
        self.info: dict[str, object] = {}  # where metrics wait for the commit

    async def start(self) -> None:
        tables = self.tables
        self.workers = [w for w in tables.workers if w.active]
        self.loads = loads_of(tables, self._today, LOOKAHEAD_DAYS)
        fresh = set(self._event_ids) - tables.processed
        tables.processed |= fresh
        held = {r.referral_id for r in self._routes} & tables.tasks.keys()
        owners = {
            row["episode_id"]: row["owner"]
            for row in tables.tasks.values()
            if row["owner"] and row["status"] in OPEN
        }
        self.lookups = BatchLookups(fresh, held, owners)
        self.deferred = DeferredWrites()

    async def flush(self) -> None:
        deferred, self.deferred = self.deferred, DeferredWrites()
        for row in deferred.tasks:
            if row["referral_id"] in self.tables.tasks:
                raise AssertionError(f"Task {row['referral_id']} written twice")
            self.tables.tasks[row["referral_id"]] = row
        self.tables.decisions += deferred.decisions
        self.tables.outbox += deferred.events


def stored_task(row: dict[str, Any]) -> repo.StoredTask:
    return repo._from_row(SimpleNamespace(**row))  # type: ignore[arg-type]


class _MemoryTasks(TaskRepository):
    def __init__(self, tables: RouterTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._t = tables

    async def lock(self, referral_id: str) -> repo.StoredTask | None:
        row = self._t.tasks.get(referral_id)
        return stored_task(row) if row else None

    async def lock_overdue_offers(self, now: datetime, limit: int) -> list[repo.StoredTask]:
        rows = [
            row
            for row in self._t.tasks.values()
            if row["offer_expires_at"] and row["offer_expires_at"] <= now
            and row["status"] == TaskStatus.REQUESTED.value
            and row["business_status"] == BusinessStatus.OFFERED.value
        ]  # fmt: skip
        rows.sort(key=lambda row: row["offer_expires_at"])
        return [stored_task(row) for row in rows[:limit]]

    async def lock_waiting(self, boroughs: frozenset[str], limit: int) -> list[repo.StoredTask]:
        rows = [
            row
            for row in self._t.tasks.values()
            if row["business_status"] == BusinessStatus.AWAITING_ALLOCATION.value
            and row["facts"]["route"].get("borough") in boroughs
        ]
        return [stored_task(row) for row in rows[:limit]]

    async def save(
        self, before: repo.StoredTask | None, after: repo.StoredTask, snapshot: dict[str, Any]
    ) -> None:
        if after.task.version != (before.task.version if before else 0) + 1:
            raise AssertionError("a change must raise the Task version by exactly one")
        columns = repo._columns(after, snapshot)
        del columns["updated_at"]  # the database's clock
        self._t.tasks[after.task.referral_id] = {
            "referral_id": after.task.referral_id,
            "episode_id": after.episode_id,
            **columns,
        }

    async def add_decision(self, referral_id: str, record: dict[str, Any]) -> None:
        self._t.decisions.append({"referral_id": referral_id, "record": record})

    async def lock_workers(self, worker_ids: Any) -> None:
        pass  # one transaction at a time in memory

    async def active_workers(self) -> list[LinkWorker]:
        return [w for w in self._t.workers if w.active]

    async def lock_for(
        self, roster: WorkerRoster, routes: Sequence[ReferralToRoute]
    ) -> list[LinkWorker]:
        return await self.active_workers()

    async def loads_by_day(self, first_day: date, days: int) -> dict[date, dict[str, Load]]:
        return loads_of(self._t, first_day, days)

    async def continuity_worker(self, route: ReferralToRoute) -> str | None:
        for row in self._t.tasks.values():
            if (
                row["episode_id"] == route.episode_id
                and row["referral_id"] != route.referral_id
                and row["owner"]
                and row["status"] in OPEN
            ):
                return str(row["owner"])
        return None

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        key = f"{consumer} {event_id}"
        if key in self._t.processed:
            return False
        self._t.processed.add(key)
        return True


class _MemoryQueries(TaskQueries):
    def __init__(self, tables: RouterTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._t = tables

    def _visible(self, viewer: Viewer, referral_id: str) -> dict[str, Any] | None:
        row = self._t.tasks.get(referral_id)
        if row is None or not viewer.can_see(row["owner"], row["facts"]["route"].get("borough")):
            return None
        return row

    async def holder(self, viewer: Viewer, referral_id: str) -> tuple[str, str | None] | None:
        row = self._visible(viewer, referral_id)
        return None if row is None else (row["episode_id"], row["owner"])

    async def route(self, viewer: Viewer, referral_id: str) -> dict[str, Any] | None:
        row = self._visible(viewer, referral_id)
        return None if row is None else dict(row["facts"]["route"])

    async def owner_and_borough(self, referral_id: str) -> tuple[str | None, str | None] | None:
        row = self._t.tasks.get(referral_id)
        return None if row is None else (row["owner"], row["facts"]["route"].get("borough"))


class _MemoryOnward(OnwardRepository):
    def __init__(self, tables: RouterTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._t = tables

    async def find_service(self, service_id: str) -> ServiceEntry | None:
        return self._t.services.get(service_id)

    async def open_to_service(self, referral_id: str, service_id: str) -> bool:
        return any(
            row["onward"].referral_id == referral_id
            and row["onward"].service_id == service_id
            and row["onward"].status.value in OPEN_ONWARD
            for row in self._t.onward.values()
        )

    async def add(
        self, onward: OnwardReferral, request: dict[str, Any], task: dict[str, Any]
    ) -> None:
        if onward.onward_id in self._t.onward:
            raise AssertionError(f"onward referral {onward.onward_id} added twice")
        self._t.onward[onward.onward_id] = {"onward": onward, "request": request, "task": task}

    async def save(self, onward: OnwardReferral, task: dict[str, Any] | None = None) -> None:
        row = self._t.onward[onward.onward_id]
        row["onward"] = onward
        if task is not None:
            row["task"] = task

    async def lock(self, onward_id: str) -> OnwardReferral | None:
        row = self._t.onward.get(onward_id)
        return row["onward"] if row else None

    async def parent_of(self, onward_id: str) -> tuple[str, str] | None:
        row = self._t.onward.get(onward_id)
        return (row["onward"].referral_id, row["onward"].organisation_id) if row else None

    async def due_ids(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        due = [
            row["onward"]
            for row in self._t.onward.values()
            if row["onward"].next_check_at is not None and row["onward"].next_check_at <= now
        ]
        due.sort(key=lambda onward: onward.next_check_at)
        return [(onward.onward_id, onward.referral_id) for onward in due[:limit]]

    async def read(self, onward_id: str, what: str = "task") -> dict[str, Any] | None:
        row = self._t.onward.get(onward_id)
        return row[what] if row else None

    async def owner_of(self, onward_id: str) -> str | None:
        row = self._t.onward.get(onward_id)
        return row["onward"].organisation_id if row else None

    async def search(
        self,
        *,
        organisation_id: str | None = None,
        referral_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        rows = [
            row
            for row in reversed(self._t.onward.values())
            if organisation_id in (None, row["onward"].organisation_id)
            and referral_id in (None, row["onward"].referral_id)
            and status in (None, row["onward"].status.value)
        ]
        return [row["task"] for row in rows[:limit]]


class _MemoryCarePlans(CarePlanRepository):
    def __init__(self, tables: RouterTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._t = tables

    async def versions(self, referral_id: str, *, newest_only: bool = False) -> list[CarePlan]:
        plans = list(reversed(self._t.care_plans.get(referral_id, [])))
        return plans[:1] if newest_only else plans

    async def add(self, plan: CarePlan) -> None:
        plans = self._t.care_plans.setdefault(plan.referral_id, [])
        if any(p.version == plan.version for p in plans):
            raise AssertionError("duplicate key: care plan version")  # the primary key
        plans.append(plan)


class _MemoryDirectory(DirectoryRepository):
    def __init__(self, tables: RouterTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._t = tables

    async def take_place(self, service_id: str) -> int | None:
        if service_id not in self._t.places:
            return None
        self._t.places[service_id] = max(0, self._t.places[service_id] - 1)
        return self._t.places[service_id]


class _MemorySla(SlaClocks):
    def __init__(self, tables: RouterTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._t = tables

    async def lock_due(self, now: datetime, limit: int) -> list[SlaTimer]:
        due = [t for t, at in self._t.sla_timers.values() if at is not None and at <= now]
        return due[:limit]

    async def lock(self, referral_id: str) -> SlaTimer | None:
        found = self._t.sla_timers.get(referral_id)
        return found[0] if found else None

    async def start(self, timer: SlaTimer, next_due_at: datetime | None) -> None:
        self._t.sla_timers.setdefault(timer.referral_id, (timer, next_due_at))

    async def save(self, timer: SlaTimer, next_due_at: datetime | None) -> None:
        self._t.sla_timers[timer.referral_id] = (timer, next_due_at)


class _MemoryProtection(ProtectionRepository):
    """Which referral and episode ids a restriction covers (no holding or erasure here)."""

    def __init__(self, tables: RouterTables) -> None:
        self._t = tables

    async def restricted_among(self, subjects: Iterable[str]) -> set[str]:
        return self._t.restricted & set(subjects)


class FakeRouterUnitOfWork(RouterUnitOfWork):
    """The router's unit of work on `tables` (a copy the caller commits or drops)."""

    def __init__(self, tables: RouterTables, topics: Topics) -> None:
        super().__init__(None, topics)  # type: ignore[arg-type]
        self.tables = tables
        self.tasks = _MemoryTasks(tables)
        self.queries = _MemoryQueries(tables)
        self.onward = _MemoryOnward(tables)
        self.care_plans = _MemoryCarePlans(tables)
        self.directory = _MemoryDirectory(tables)
        self.sla = _MemorySla(tables)
        self.protection = _MemoryProtection(tables)

    def count(self, counter: Any, amount: float = 1) -> None:
        self.tables.counted.append(tuple(getattr(counter, "_labelvalues", ())))


def memory_units(store: RouterTables, topics: Topics) -> Units:
    """Units of work on `store`: each commits whole (rows, then its events) or not at all."""
    return copy_on_commit(store, lambda working: FakeRouterUnitOfWork(working, topics))
