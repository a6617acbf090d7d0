"""The read side's queries over `router.tasks`: what a link worker or coordinator may see.

`scope` is the SQL twin of `Viewer.can_see`; `search_query` reads newest first from an index
(a worker's own, or all tasks by time) rather than sorting every task in scope on each
request, paged by a cursor on (updated_at, referral_id), which the indexes hold in that order.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.search import Page, SearchQuery, keyset_page, page_of
from hub_router.adapters import orm
from hub_router.adapters import task_repository as repo
from hub_router.adapters.fhir_task import with_routing_inputs
from hub_router.adapters.practitioner_role import from_practitioner_role, practitioner_name
from hub_router.domain.access import Viewer
from hub_router.domain.model import LinkWorker, Load
from hub_router.domain.task_status import BusinessStatus, TaskStatus

BOROUGH = orm.tasks.c.facts["route"]["borough"].astext


def scope(viewer: Viewer) -> ColumnElement[bool]:
    """The rows this caller may know exist."""
    if viewer.worker_id is not None:
        return orm.tasks.c.owner == viewer.worker_id
    if not viewer.boroughs:
        return false()
    in_boroughs: ColumnElement[bool] = BOROUGH.in_(sorted(viewer.boroughs))
    return in_boroughs


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
    ).where(scope(viewer))
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
    """The first page of a search, newest first (what the query plan test explains)."""
    search = SearchQuery(filters={}, descending=True, count=limit)
    query, _ = keyset_page(
        matching(viewer, **filters), search, orm.tasks.c.updated_at, orm.tasks.c.referral_id
    )
    return query


class TaskQueries:
    """Reads of Tasks within a viewer's scope, in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(
        self,
        viewer: Viewer,
        search: SearchQuery,
        owner: str | None = None,
        status: TaskStatus | None = None,
        business_status: BusinessStatus | None = None,
    ) -> tuple[Page, int]:
        """One page of the matching Task snapshots, in the order `search` asks, and how many
        match in all."""
        matches = matching(viewer, owner, status, business_status, search.ids)
        session = self._session
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

    async def read(self, viewer: Viewer, referral_id: str) -> dict[str, Any] | None:
        """One Task's latest snapshot with its routing inputs, if the caller may see it."""
        row = (
            await self._session.execute(
                select(orm.tasks.c.task, orm.tasks.c.facts).where(
                    orm.tasks.c.referral_id == referral_id, scope(viewer)
                )
            )
        ).first()
        return (
            None if row is None else with_routing_inputs(row.task, (row.facts or {}).get("route"))
        )

    async def holder(self, viewer: Viewer, referral_id: str) -> tuple[str, str | None] | None:
        """The episode id and owner of a Task the caller may see."""
        row = (
            await self._session.execute(
                select(orm.tasks.c.episode_id, orm.tasks.c.owner).where(
                    orm.tasks.c.referral_id == referral_id, scope(viewer)
                )
            )
        ).first()
        return None if row is None else (str(row.episode_id), row.owner)

    async def route(self, viewer: Viewer, referral_id: str) -> dict[str, Any] | None:
        """The routing facts of a referral the caller may see."""
        found: dict[str, Any] | None = (
            await self._session.execute(
                select(orm.tasks.c.facts["route"]).where(
                    orm.tasks.c.referral_id == referral_id, scope(viewer)
                )
            )
        ).scalar_one_or_none()
        return found

    async def owner_and_borough(self, referral_id: str) -> tuple[str | None, str | None] | None:
        """Who holds a referral and its borough (for `Viewer.can_see`), whoever asks."""
        row = (
            await self._session.execute(
                select(orm.tasks.c.owner, BOROUGH).where(orm.tasks.c.referral_id == referral_id)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def waiting(self, viewer: Viewer, limit: int) -> list[Any]:
        """Referrals waiting for a coordinator in the caller's scope, oldest first."""
        return list(
            (
                await self._session.execute(
                    select(
                        orm.tasks.c.referral_id,
                        orm.tasks.c.facts,
                        orm.tasks.c.offers,
                        orm.tasks.c.failed_offers,
                        orm.tasks.c.task,
                        orm.tasks.c.updated_at,
                    )
                    .where(scope(viewer), orm.AWAITING_ALLOCATION)
                    .order_by(orm.tasks.c.updated_at)
                    .limit(limit)
                )
            ).all()
        )

    async def latest_decisions(self, referral_ids: list[str]) -> dict[str, tuple[Any, Any]]:
        """Referral id -> (its latest decision record, when it was decided)."""
        rows = await self._session.execute(
            select(orm.decisions.c.referral_id, orm.decisions.c.record, orm.decisions.c.decided_at)
            .where(orm.decisions.c.referral_id.in_(referral_ids))
            .ext(distinct_on(orm.decisions.c.referral_id))
            .order_by(orm.decisions.c.referral_id, orm.decisions.c.id.desc())
        )
        return {referral_id: (record, at) for referral_id, record, at in rows.all()}

    async def roster(self, today: date) -> tuple[list[LinkWorker], dict[str, str], dict[str, Load]]:
        """Every active worker, every active worker's name, and today's loads."""
        roles = (
            await self._session.scalars(
                select(orm.link_workers.c.role).where(orm.link_workers.c.active)
            )
        ).all()
        workers, names = [], {}
        for role in roles:
            worker = from_practitioner_role(role)
            names[worker.worker_id] = practitioner_name(role) or worker.worker_id
            workers.append(worker)
        return workers, names, (await repo.loads_by_day(self._session, today, 1))[today]
