"""The referrers' read side: ServiceRequests and Tasks, filtered by who is asking.

The access rule is part of every query (never a check after the fact), so a referral the
caller may not read is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.search import Page, SearchQuery, keyset_page, page_of
from hub_common.security.disclosure import for_referrer
from hub_notifier.adapters import orm
from hub_notifier.adapters.fhir_search import InstantBound
from hub_notifier.adapters.task_facts import outcomes_of
from hub_notifier.domain.access import WORKING_STATUSES, Reader, owner_reference
from hub_notifier.domain.message_back import (
    Moment,
    for_gp_practice,
    message_back,
    step_of,
    version_of_moment,
)
from hub_notifier.domain.message_back_document import message_back_document

t = orm.tasks
sr = orm.service_requests

MAX_COUNT = 500
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


class ReadService:
    """Answers reads; every method takes the Reader and returns only what it may see."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def service_request(self, reader: Reader, referral_id: str) -> dict[str, Any] | None:
        visible = (
            owned_by(reader.worker, sr.c.referral_id)
            if reader.worker is not None
            else visible_to(reader, sr.c.requester_org, sr.c.borough)
        )
        async with self._sessions() as session:
            resource: dict[str, Any] | None = await session.scalar(
                select(sr.c.resource).where(sr.c.referral_id == referral_id, visible)
            )
        return resource

    async def task(self, reader: Reader, task_id: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            task: dict[str, Any] | None = await session.scalar(
                select(t.c.task)
                .select_from(t.outerjoin(sr, sr.c.referral_id == t.c.referral_id))
                .where(
                    t.c.referral_id == task_id, visible_to(reader, t.c.requester_org, sr.c.borough)
                )
            )
        return _as_seen_by(reader, task) if task else None

    async def refused_message(self, reader: Reader, rejection_id: str) -> dict[str, Any] | None:
        """What the agency sent in a referral refused at intake (`source` and `original`, as
        `referrals.rejected` carried it), so its referrer can correct it; None when it is not
        theirs, not a refusal, or already deleted by retention."""
        if reader.organisation is None:
            return None
        rejections = orm.rejections
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(rejections.c.source, rejections.c.event["original"])
                    .join(t, t.c.referral_id == rejections.c.rejection_id)
                    .where(
                        rejections.c.rejection_id == rejection_id,
                        t.c.requester_org == reader.organisation,
                    )
                )
            ).first()
        if row is None:
            return None
        return {"rejection": rejection_id, "source": row[0], "original": row[1]}

    async def task_history(self, reader: Reader, task_id: str) -> list[dict[str, Any]] | None:
        """Every version of a Task the reader may see, newest first; None when they may not."""
        if await self.task(reader, task_id) is None:
            return None
        history = orm.task_history
        async with self._sessions() as session:
            versions = (
                await session.scalars(
                    select(history.c.task)
                    .where(history.c.referral_id == task_id)
                    .order_by(history.c.version.desc())
                )
            ).all()
        return [_as_seen_by(reader, version) for version in versions]

    async def message_back_document(
        self, reader: Reader, referral_id: str, moment: Moment, document: str
    ) -> dict[str, Any] | None:
        """The message back of `moment` as a document Bundle, for the GP practice that made
        the referral only; None when the reader is not that practice or the moment has not
        come (the same answer: nothing to tell them apart)."""
        if reader.organisation is None:
            return None
        history = orm.task_history
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(sr.c.resource, sr.c.source, sr.c.requester_org).where(
                        sr.c.referral_id == referral_id,
                        sr.c.requester_org == reader.organisation,
                    )
                )
            ).one_or_none()
            if row is None or not for_gp_practice(row.source, row.requester_org):
                return None
            versions = list(
                (
                    await session.scalars(
                        select(history.c.task)
                        .where(history.c.referral_id == referral_id)
                        .order_by(history.c.version)
                    )
                ).all()
            )
        found = version_of_moment(versions, moment)
        if found is None:
            return None
        task, first_contact = found
        outcomes = outcomes_of(task) if moment is Moment.CLOSED else None
        message = message_back(
            str(task.get("status")),
            step_of(task),
            first_contact=first_contact,
            outcomes=outcomes,
        )
        if message is None:
            return None
        return message_back_document(row.resource, task, message, document)

    async def search_tasks(
        self, reader: Reader, search: TaskSearch, query: SearchQuery
    ) -> tuple[Page, int]:
        """One page of matches (oldest change first unless `_sort=-_lastUpdated`) and how
        many there are in all; rows of the page are Tasks as this reader may see them."""
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
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(matches.subquery()))
            if query.summary_count or query.count == 0:
                return Page([], None, None), int(total or 0)
            page_query, reversed_ = keyset_page(matches, query, SORT_INSTANT, t.c.referral_id)
            rows = (await session.execute(page_query)).all()
        page = page_of(rows, query, reversed_, lambda row: (row.instant, row.referral_id))
        tasks = [_as_seen_by(reader, row.task) for row in page.rows]
        return Page(tasks, page.next, page.previous), int(total or 0)


def _as_seen_by(reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return for_referrer(task) if reader.is_referrer else task
