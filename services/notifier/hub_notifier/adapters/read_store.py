"""The referrers' read side, as a repository over the use case's session: ServiceRequests and
Tasks filtered by who is asking.

The access rule is part of every query (never a check after the fact), so a referral the
caller may not read is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.search import Page, SearchQuery, keyset_page, page_of
from hub_notifier.adapters import orm
from hub_notifier.adapters.fhir_search import InstantBound
from hub_notifier.domain.access import WORKING_STATUSES, Reader, owner_reference

t = orm.tasks
sr = orm.service_requests
h = orm.task_history

ROWS_PER_FETCH = 500  # rows are streamed from the database: a large report is never all in memory
# A Task recorded without a lastUpdated sorts first: paging needs a total order.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SORT_INSTANT = func.coalesce(t.c.last_updated, literal(_EPOCH))


@dataclass(frozen=True)
class TaskSearch:
    """`GET /fhir/Task` parameters, already parsed."""

    focus: str | None = None  # a referral id
    requester: str | None = None  # `system|value`
    statuses: tuple[str, ...] = ()
    last_updated: tuple[InstantBound, ...] = ()
    ids: tuple[str, ...] = ()


def owned_by(worker: str, referral_column: Any) -> ColumnElement[bool]:
    """The referral's current Task is the worker's and they are working on it."""
    owned: ColumnElement[bool] = exists().where(
        t.c.referral_id == referral_column,
        t.c.status.in_(WORKING_STATUSES),
        t.c.task["owner"]["reference"].astext == owner_reference(worker),
    )
    return owned


def visible_to(reader: Reader, requester_column: Any, borough_column: Any) -> ColumnElement[bool]:
    if reader.worker is not None:
        return false()  # a worker reads only the person of a referral they own (owned_by)
    if reader.organisation is not None:
        condition: ColumnElement[bool] = requester_column == reader.organisation
        return condition
    if reader.boroughs:
        in_boroughs: ColumnElement[bool] = borough_column.in_(sorted(reader.boroughs))
        return in_boroughs
    return false()


def _bound(bound: InstantBound) -> ColumnElement[bool]:
    column = t.c.last_updated
    return {
        "gt": column > bound.instant,
        "ge": column >= bound.instant,
        "lt": column < bound.instant,
        "le": column <= bound.instant,
        "eq": column == bound.instant,
    }[bound.prefix]


class ReadStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def service_request(self, reader: Reader, referral_id: str) -> dict[str, Any] | None:
        """The ServiceRequest, if this reader may see it (a worker: one they are working on)."""
        visible = (
            owned_by(reader.worker, sr.c.referral_id)
            if reader.worker is not None
            else visible_to(reader, sr.c.requester_org, sr.c.borough)
        )
        resource: dict[str, Any] | None = await self._session.scalar(
            select(sr.c.resource).where(sr.c.referral_id == referral_id, visible)
        )
        return resource

    async def task(self, reader: Reader, task_id: str) -> dict[str, Any] | None:
        """The current Task, if this reader may see it."""
        task: dict[str, Any] | None = await self._session.scalar(
            select(t.c.task)
            .select_from(t.outerjoin(sr, sr.c.referral_id == t.c.referral_id))
            .where(t.c.referral_id == task_id, visible_to(reader, t.c.requester_org, sr.c.borough))
        )
        return task

    async def refused_message(self, organisation: str, rejection_id: str) -> Any | None:
        """The refused message's `source` and `original`, if `organisation` sent it."""
        rejections = orm.rejections
        return (
            await self._session.execute(
                select(rejections.c.source, rejections.c.event["original"])
                .join(t, t.c.referral_id == rejections.c.rejection_id)
                .where(
                    rejections.c.rejection_id == rejection_id,
                    t.c.requester_org == organisation,
                )
            )
        ).first()

    async def versions(self, referral_id: str, *, newest_first: bool) -> list[dict[str, Any]]:
        """Every recorded version of a referral's Task (no access rule: check it first)."""
        order = h.c.version.desc() if newest_first else h.c.version
        return list(
            (
                await self._session.scalars(
                    select(h.c.task).where(h.c.referral_id == referral_id).order_by(order)
                )
            ).all()
        )

    async def request_of(self, organisation: str, referral_id: str) -> Any | None:
        """The ServiceRequest's resource, source and requester, if `organisation` made it."""
        return (
            await self._session.execute(
                select(sr.c.resource, sr.c.source, sr.c.requester_org).where(
                    sr.c.referral_id == referral_id, sr.c.requester_org == organisation
                )
            )
        ).one_or_none()

    async def search_tasks(
        self, reader: Reader, search: TaskSearch, query: SearchQuery
    ) -> tuple[Page, int]:
        """One page of matching Tasks (oldest change first unless `_sort=-_lastUpdated`) and
        how many there are in all; the page's rows are the stored Tasks."""
        matches = (
            select(t.c.task, SORT_INSTANT.label("instant"), t.c.referral_id)
            .select_from(t.outerjoin(sr, sr.c.referral_id == t.c.referral_id))
            .where(visible_to(reader, t.c.requester_org, sr.c.borough))
        )
        if search.focus is not None:
            matches = matches.where(t.c.referral_id == search.focus)
        if search.ids:
            matches = matches.where(t.c.referral_id.in_(search.ids))
        if search.requester is not None:
            matches = matches.where(t.c.requester_org == search.requester)
        if search.statuses:
            matches = matches.where(t.c.status.in_(search.statuses))
        for bound in search.last_updated:
            matches = matches.where(_bound(bound))
        total = await self._session.scalar(select(func.count()).select_from(matches.subquery()))
        if query.summary_count or query.count == 0:
            return Page([], None, None), int(total or 0)
        page_query, reversed_ = keyset_page(matches, query, SORT_INSTANT, t.c.referral_id)
        rows = (await self._session.execute(page_query)).all()
        page = page_of(rows, query, reversed_, lambda row: (row.instant, row.referral_id))
        return Page([row.task for row in page.rows], page.next, page.previous), int(total or 0)

    async def report_rows(self, reader: Reader) -> AsyncIterator[Any]:
        """Every referral the reader may read, oldest first, with its current Task (if any),
        streamed in chunks."""
        query = (
            select(
                sr.c.referral_id,
                sr.c.received_at,
                sr.c.source,
                sr.c.resource,
                t.c.task,
                t.c.status,
                t.c.business_status,
                t.c.last_updated,
                t.c.updated_at,
            )
            .select_from(sr.outerjoin(t, t.c.referral_id == sr.c.referral_id))
            .where(visible_to(reader, sr.c.requester_org, sr.c.borough))
            .order_by(sr.c.received_at, sr.c.referral_id)
            .execution_options(yield_per=ROWS_PER_FETCH)
        )
        result = await self._session.stream(query)
        async for row in result:
            yield row
