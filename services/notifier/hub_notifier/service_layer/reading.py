"""The referrers' read side: ServiceRequests and Tasks, filtered by who is asking.

The access rule is part of every query (never a check after the fact), so a referral the
caller may not read is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub_common.fhir.search import Page, SearchQuery
from hub_common.security.disclosure import for_referrer
from hub_notifier.adapters.read_store import TaskSearch
from hub_notifier.adapters.task_facts import outcomes_of
from hub_notifier.domain.access import Reader
from hub_notifier.domain.message_back import (
    Moment,
    for_gp_practice,
    message_back,
    step_of,
    version_of_moment,
)
from hub_notifier.domain.message_back_document import message_back_document
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

__all__ = ["MAX_COUNT", "ReadService", "TaskSearch"]

MAX_COUNT = 500


class ReadService:
    """Answers reads; every method takes the Reader and returns only what it may see."""

    def __init__(
        self, sessions: Sessions, units: Callable[[], NotifierUnitOfWork] | None = None
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions))

    async def service_request(self, reader: Reader, referral_id: str) -> dict[str, Any] | None:
        unit = self._new_unit()
        async with unit.transaction():
            return await unit.reads.service_request(reader, referral_id)

    async def task(self, reader: Reader, task_id: str) -> dict[str, Any] | None:
        unit = self._new_unit()
        async with unit.transaction():
            task = await unit.reads.task(reader, task_id)
        return _as_seen_by(reader, task) if task else None

    async def refused_message(self, reader: Reader, rejection_id: str) -> dict[str, Any] | None:
        """What the agency sent in a referral refused at intake (`source` and `original`, as
        `referrals.rejected` carried it), so its referrer can correct it; None when it is not
        theirs, not a refusal, or already deleted by retention."""
        if reader.organisation is None:
            return None
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.reads.refused_message(reader.organisation, rejection_id)
        if row is None:
            return None
        return {"rejection": rejection_id, "source": row[0], "original": row[1]}

    async def task_history(self, reader: Reader, task_id: str) -> list[dict[str, Any]] | None:
        """Every version of a Task the reader may see, newest first; None when they may not."""
        if await self.task(reader, task_id) is None:
            return None
        unit = self._new_unit()
        async with unit.transaction():
            versions = await unit.reads.versions(task_id, newest_first=True)
        return [_as_seen_by(reader, version) for version in versions]

    async def message_back_document(
        self, reader: Reader, referral_id: str, moment: Moment, document: str
    ) -> dict[str, Any] | None:
        """The message back of `moment` as a document Bundle, for the GP practice that made
        the referral only; None when the reader is not that practice or the moment has not
        come (the same answer: nothing to tell them apart)."""
        if reader.organisation is None:
            return None
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.reads.request_of(reader.organisation, referral_id)
            if row is None or not for_gp_practice(row.source, row.requester_org):
                return None
            versions = await unit.reads.versions(referral_id, newest_first=False)
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
        unit = self._new_unit()
        async with unit.transaction():
            page, total = await unit.reads.search_tasks(reader, search, query)
        tasks = [_as_seen_by(reader, task) for task in page.rows]
        return Page(tasks, page.next, page.previous), total


def _as_seen_by(reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return for_referrer(task) if reader.is_referrer else task
