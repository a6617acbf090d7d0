"""Read side: what a link worker or coordinator may see (queries only, no changes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.search import Page, SearchQuery, keyset_page, page_of
from hub_router.adapters import orm
from hub_router.adapters import task_repository as repo
from hub_router.adapters.fhir_task import with_routing_inputs
from hub_router.adapters.practitioner_role import from_practitioner_role, practitioner_name
from hub_router.domain.access import Viewer
from hub_router.domain.candidates import candidates
from hub_router.domain.model import LinkWorker, Load
from hub_router.domain.offers import TaskNotVisible
from hub_router.domain.task_status import BusinessStatus, TaskStatus

BOROUGH = orm.tasks.c.facts["route"]["borough"].astext


def _scope(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL twin of Viewer.can_see: the rows this caller may know exist."""
    if viewer.worker_id is not None:
        return orm.tasks.c.owner == viewer.worker_id
    if not viewer.boroughs:
        return false()
    in_boroughs: ColumnElement[bool] = BOROUGH.in_(sorted(viewer.boroughs))
    return in_boroughs


scope_of = _scope  # the same scope, for other use cases reading a referral's facts


def matching(
    viewer: Viewer,
    owner: str | None = None,
    status: TaskStatus | None = None,
    business_status: BusinessStatus | None = None,
    ids: tuple[str, ...] = (),
) -> Select[Any]:
    """The Tasks in the caller's scope that match the filters, unordered."""
    query = select(
        orm.tasks.c.task, orm.tasks.c.facts, orm.tasks.c.updated_at, orm.tasks.c.referral_id
    ).where(_scope(viewer))
    if owner is not None:
        query = query.where(orm.tasks.c.owner == owner)
    if status is not None:
        query = query.where(orm.tasks.c.status == status.value)
    if business_status is not None:
        query = query.where(orm.tasks.c.business_status == business_status.value)
    if ids:
        query = query.where(orm.tasks.c.referral_id.in_(ids))
    return query


def search_query(viewer: Viewer, limit: int = 100, **filters: Any) -> Select[Any]:
    """Newest first, read in that order from an index (a worker's own, or all tasks by time)
    rather than every task in scope sorted on each request; paged by a cursor on
    (updated_at, referral_id), which the indexes hold in that order."""
    search = SearchQuery(filters={}, descending=True, count=limit)
    query, _ = keyset_page(
        matching(viewer, **filters), search, orm.tasks.c.updated_at, orm.tasks.c.referral_id
    )
    return query


class TaskViews:
    """Tasks and waiting referrals, each seen only by those allowed to."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def search(
        self,
        viewer: Viewer,
        *,
        owner: str | None = None,
        status: TaskStatus | None = None,
        business_status: BusinessStatus | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The latest Task snapshots matching the filters, within the caller's scope, newest
        first (at most `limit`)."""
        search = SearchQuery(filters={}, descending=True, count=limit)
        page, _ = await self.page(
            viewer, search, owner=owner, status=status, business_status=business_status
        )
        return page.rows

    async def page(
        self,
        viewer: Viewer,
        search: SearchQuery,
        *,
        owner: str | None = None,
        status: TaskStatus | None = None,
        business_status: BusinessStatus | None = None,
    ) -> tuple[Page, int]:
        """One page of the matching Task snapshots, in the order `search` asks, and how many
        match in all."""
        matches = matching(viewer, owner, status, business_status, search.ids)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(matches.subquery()))
            if search.summary_count or search.count == 0:
                return Page([], None, None), int(total or 0)
            query, reversed_ = keyset_page(
                matches, search, orm.tasks.c.updated_at, orm.tasks.c.referral_id
            )
            rows = (await session.execute(query)).all()
        page = page_of(rows, search, reversed_, lambda row: (row.updated_at, row.referral_id))
        tasks = [with_routing_inputs(row.task, (row.facts or {}).get("route")) for row in page.rows]
        return Page(tasks, page.next, page.previous), int(total or 0)

    async def read(self, viewer: Viewer, referral_id: str) -> dict[str, Any]:
        """One Task's latest snapshot; TaskNotVisible when it is not the caller's to see."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(orm.tasks.c.task, orm.tasks.c.facts).where(
                        orm.tasks.c.referral_id == referral_id, _scope(viewer)
                    )
                )
            ).first()
        if row is None:
            raise TaskNotVisible(referral_id)
        return with_routing_inputs(row.task, (row.facts or {}).get("route"))

    async def waiting(
        self, viewer: Viewer, limit: int = 200, today: date | None = None
    ) -> list[dict[str, Any]]:
        """Referrals waiting for a coordinator, oldest first, each with its latest decision
        and, given `today`, the workers of the caller's boroughs to choose from (candidates)."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        orm.tasks.c.referral_id,
                        orm.tasks.c.facts,
                        orm.tasks.c.offers,
                        orm.tasks.c.failed_offers,
                        orm.tasks.c.task,
                        orm.tasks.c.updated_at,
                    )
                    .where(_scope(viewer), orm.AWAITING_ALLOCATION)
                    .order_by(orm.tasks.c.updated_at)
                    .limit(limit)
                )
            ).all()
            ids = [row.referral_id for row in rows]
            decisions = {
                referral_id: (record, decided_at)
                for referral_id, record, decided_at in (
                    await session.execute(
                        select(
                            orm.decisions.c.referral_id,
                            orm.decisions.c.record,
                            orm.decisions.c.decided_at,
                        )
                        .where(orm.decisions.c.referral_id.in_(ids))
                        .ext(distinct_on(orm.decisions.c.referral_id))
                        .order_by(orm.decisions.c.referral_id, orm.decisions.c.id.desc())
                    )
                ).all()
            }
            roster = await self._roster(session, viewer, today) if today and rows else None
        result = []
        for row in rows:
            route = row.facts["route"]
            record, decided_at = decisions.get(row.referral_id, (None, None))
            result.append(
                {
                    "referralId": row.referral_id,
                    "borough": route.get("borough"),
                    "district": route.get("district"),
                    "needs": route.get("needs", []),
                    "language": route.get("language"),
                    "interpreterNeeded": route.get("interpreter_needed", False),
                    "riskFlagged": route.get("risk_flagged", False),
                    "offeredTo": row.offers,
                    "failedOffers": row.failed_offers,
                    "waitingSince": row.updated_at.isoformat(),
                    "decision": {**record, "decidedAt": decided_at.isoformat()} if record else None,
                    "task": row.task,
                }
            )
            if roster is not None and today is not None:
                workers, names, loads = roster
                named = {*row.offers, *((record or {}).get("excluded") or {})}
                named |= set((record or {}).get("scores") or {})
                result[-1]["workerNames"] = {w: names[w] for w in sorted(named) if w in names}
                result[-1]["candidates"] = [
                    c.to_json()
                    for c in candidates(
                        repo.route_from_json(route), row.offers, workers, names, loads, today
                    )
                ]
        return result

    async def _roster(
        self, session: AsyncSession, viewer: Viewer, today: date
    ) -> tuple[list[LinkWorker], dict[str, str], dict[str, Load]]:
        """The active workers covering any of the caller's boroughs, their names, today's loads."""
        roles = (
            await session.scalars(select(orm.link_workers.c.role).where(orm.link_workers.c.active))
        ).all()
        workers, names = [], {}
        for role in roles:
            worker = from_practitioner_role(role)
            # Every name, for the workers a decision record names in other boroughs too.
            names[worker.worker_id] = practitioner_name(role) or worker.worker_id
            if worker.boroughs & viewer.boroughs:
                workers.append(worker)
        return workers, names, (await repo.loads_by_day(session, today, 1))[today]

    async def workers(self, viewer: Viewer, today: date) -> list[dict[str, Any]]:
        """The active link workers covering any of the coordinator's boroughs, by name, with
        their load today against their limits: whom a coordinator may choose from."""
        async with self._sessions() as session:
            workers, names, loads = await self._roster(session, viewer, today)
        result = []
        for worker in workers:
            load = loads.get(worker.worker_id, Load())
            result.append(
                {
                    "id": worker.worker_id,
                    "name": names[worker.worker_id],
                    "boroughs": sorted(worker.boroughs),
                    "languages": sorted(worker.languages),
                    "riskCleared": worker.risk_cleared,
                    "workingToday": worker.available_on(today),
                    "openReferrals": load.active,
                    "maxCaseload": worker.max_caseload,
                    "newToday": load.new_today,
                    "maxNewPerDay": worker.max_new_per_day,
                }
            )
        return sorted(result, key=lambda w: (str(w["name"]), str(w["id"])))


async def visible_task(
    session: AsyncSession, viewer: Viewer, referral_id: str
) -> tuple[str, str | None]:
    """The episode id and owner of a Task the caller may see; TaskNotVisible otherwise."""
    row = (
        await session.execute(
            select(orm.tasks.c.episode_id, orm.tasks.c.owner).where(
                orm.tasks.c.referral_id == referral_id, _scope(viewer)
            )
        )
    ).first()
    if row is None:
        raise TaskNotVisible(referral_id)
    return str(row.episode_id), row.owner
