"""The Task repository a unit of work hands its use cases: `task_repository`'s statements bound
to the unit's transaction, plus the decision records written beside each change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.messaging.inbox import first_delivery
from hub_router.adapters import orm
from hub_router.adapters import task_repository as repo
from hub_router.adapters.task_repository import StoredTask
from hub_router.adapters.worker_roster import WorkerRoster
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import could_take


class TaskRepository:
    """Tasks, their locks and the assignment locks, in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, referral_id: str) -> StoredTask | None:
        """The Task, its row locked until the transaction ends."""
        return await repo.lock_task(self._session, referral_id)

    async def lock_overdue_offers(self, now: datetime, limit: int) -> list[StoredTask]:
        return await repo.lock_overdue_offers(self._session, now, limit)

    async def lock_waiting(self, boroughs: frozenset[str], limit: int) -> list[StoredTask]:
        return await repo.lock_waiting(self._session, boroughs, limit)

    async def save(
        self, before: StoredTask | None, after: StoredTask, snapshot: dict[str, Any]
    ) -> None:
        await repo.save(self._session, before, after, snapshot)

    async def add_decision(self, referral_id: str, record: dict[str, Any]) -> None:
        await self._session.execute(
            insert(orm.decisions).values(referral_id=referral_id, record=record)
        )

    async def lock_workers(self, worker_ids: Iterable[str]) -> None:
        """The assignment lock of each (see `task_repository.lock_workers`)."""
        await repo.lock_workers(self._session, worker_ids)

    async def active_workers(self) -> list[LinkWorker]:
        return await repo.active_workers(self._session)

    async def lock_for(
        self, roster: WorkerRoster, routes: Sequence[ReferralToRoute]
    ) -> list[LinkWorker]:
        """The active workers, with the assignment lock held of each who could take one of
        `routes` (the only ones the caller may then offer them to)."""
        workers = await roster.active(self._session)
        await repo.lock_workers(self._session, could_take(workers, routes))
        return workers

    async def loads_by_day(self, first_day: date, days: int) -> dict[date, dict[str, Load]]:
        return await repo.loads_by_day(self._session, first_day, days)

    async def continuity_worker(self, route: ReferralToRoute) -> str | None:
        return await repo.continuity_worker(self._session, route)

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        """Record an event as applied by `consumer`; False when it already was."""
        return await first_delivery(self._session, orm.processed_events, consumer, event_id)
