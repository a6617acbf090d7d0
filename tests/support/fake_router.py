"""The router's routing unit of work kept in memory, for use-case tests without PostgreSQL.

It keeps the promises routing relies on: the batch commits whole or not at all, a referral's
savepoint rolls back its own writes, event ids are recorded as processed with the batch, and
a worker's load counts the open Tasks they own (new ones on their offer day).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hub_common.messaging.outbox import OutgoingEvent
from hub_router.adapters.batch_lookups import BatchLookups
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.task_status import OPEN
from hub_router.service_layer.recording import DeferredWrites
from hub_router.service_layer.unit_of_work import LOOKAHEAD_DAYS, RoutingUnitOfWork


@dataclass
class RouterTables:
    """What the router's database holds, as far as routing new referrals reads and writes."""

    workers: list[LinkWorker] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # referral id -> row
    decisions: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[OutgoingEvent] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)  # event ids
    commits: int = 0


class _Savepoint:
    def __init__(self, unit: FakeRoutingUnitOfWork) -> None:
        self._unit = unit

    async def __aenter__(self) -> None:
        self._saved = copy.deepcopy(self._unit.tables)

    async def __aexit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:
            self._unit.tables.__dict__.update(self._saved.__dict__)


class FakeRoutingUnitOfWork(RoutingUnitOfWork):
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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.tables = copy.deepcopy(self._store)
        self._session = self  # type: ignore[assignment]  # begin_nested, below
        await self.start()
        yield
        await self.flush()
        self.tables.commits += 1
        self._store.__dict__.update(self.tables.__dict__)

    def begin_nested(self) -> _Savepoint:
        return _Savepoint(self)

    async def start(self) -> None:
        tables = self.tables
        self.workers = [w for w in tables.workers if w.active]
        self.loads = {}
        for ahead in range(LOOKAHEAD_DAYS):
            day = self._today + timedelta(days=ahead)
            by_worker: dict[str, Load] = {}
            for row in tables.tasks.values():
                if row["owner"] and row["status"] in OPEN:
                    load = by_worker.get(row["owner"], Load())
                    new = 1 if row["offered_on"] == day else 0
                    by_worker[row["owner"]] = Load(load.active + 1, load.new_today + new)
            self.loads[day] = by_worker
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
