"""Read side: what a link worker or coordinator may see (queries only, no changes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hub_common.fhir.search import Page, SearchQuery
from hub_common.messaging.topics import Topics
from hub_router.adapters import task_repository as repo
from hub_router.adapters.task_queries import TaskQueries, matching, scope, search_query
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.domain.access import Viewer
from hub_router.domain.candidates import candidates
from hub_router.domain.model import LinkWorker, Load
from hub_router.domain.offers import TaskNotVisible
from hub_router.domain.task_status import BusinessStatus, TaskStatus

__all__ = ["TaskViews", "matching", "scope_of", "search_query"]

scope_of = scope  # the SQL twin of Viewer.can_see (adapters/task_queries.py)


class TaskViews:
    """Tasks and waiting referrals, each seen only by those allowed to."""

    def __init__(self, sessions: Sessions | None, *, units: Units | None = None) -> None:
        # Reads record nothing, so their units of work need no topics.
        self._units = units_for(sessions, Topics(), units)

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
        async with self._units() as uow:
            return await uow.queries.page(viewer, search, owner, status, business_status)

    async def read(self, viewer: Viewer, referral_id: str) -> dict[str, Any]:
        """One Task's latest snapshot; TaskNotVisible when it is not the caller's to see."""
        async with self._units() as uow:
            task = await uow.queries.read(viewer, referral_id)
        if task is None:
            raise TaskNotVisible(referral_id)
        return task

    async def waiting(
        self, viewer: Viewer, limit: int = 200, today: date | None = None
    ) -> list[dict[str, Any]]:
        """Referrals waiting for a coordinator, oldest first, each with its latest decision
        and, given `today`, the workers of the caller's boroughs to choose from (candidates)."""
        async with self._units() as uow:
            rows = await uow.queries.waiting(viewer, limit)
            decisions = await uow.queries.latest_decisions([row.referral_id for row in rows])
            roster = await self._roster(uow.queries, viewer, today) if today and rows else None
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

    @staticmethod
    async def _roster(
        queries: TaskQueries, viewer: Viewer, today: date
    ) -> tuple[list[LinkWorker], dict[str, str], dict[str, Load]]:
        """The active workers covering any of the caller's boroughs, every active worker's
        name (a decision record names workers of other boroughs too), today's loads."""
        everyone, names, loads = await queries.roster(today)
        return [w for w in everyone if w.boroughs & viewer.boroughs], names, loads

    async def workers(self, viewer: Viewer, today: date) -> list[dict[str, Any]]:
        """The active link workers covering any of the coordinator's boroughs, by name, with
        their load today against their limits: whom a coordinator may choose from."""
        async with self._units() as uow:
            workers, names, loads = await self._roster(uow.queries, viewer, today)
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
