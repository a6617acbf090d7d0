"""Tracking use cases: record every referral, Task version and rejection the hub publishes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.inbox import first_delivery
from hub_notifier.adapters import orm
from hub_notifier.adapters.requester import requester_key, service_request_requester, source_of


class TrackingService:
    """Keeps the current Task and its full timeline per referral. Every method is idempotent."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record_request(self, request: dict[str, Any], event_id: str) -> None:
        async with self._sessions.begin() as session:
            if not await first_delivery(
                session, orm.processed_events, "notifier.requested", event_id
            ):
                return
            await session.execute(
                insert(orm.service_requests)
                .values(
                    referral_id=str(request["id"]),
                    source=source_of(request),
                    requester_org=requester_key(service_request_requester(request)),
                    resource=request,
                )
                .on_conflict_do_nothing(index_elements=["referral_id"])
            )

    async def record_task(self, task: dict[str, Any], event_id: str) -> None:
        """Keep every version in the timeline; the current row only moves forward."""
        referral_id = str(task["id"])
        version = int(task.get("meta", {}).get("versionId", 0))
        if version < 1:
            raise ValueError("Task.meta.versionId must be a positive integer")
        business = (task.get("businessStatus", {}).get("coding") or [{}])[0].get("code", "")
        async with self._sessions.begin() as session:
            if not await first_delivery(session, orm.processed_events, "notifier.tasks", event_id):
                return
            await session.execute(
                insert(orm.task_history)
                .values(referral_id=referral_id, version=version, task=task)
                .on_conflict_do_nothing(index_elements=["referral_id", "version"])
            )
            values = {
                "referral_id": referral_id,
                "version": version,
                "status": str(task.get("status")),
                "business_status": business,
                "requester_org": requester_key(task.get("requester", {}).get("identifier")),
                "task": task,
            }
            upsert = insert(orm.tasks).values(values)
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=["referral_id"],
                    set_=values,
                    where=orm.tasks.c.version < upsert.excluded.version,
                )
            )

    async def record_rejection(self, event: dict[str, Any], event_id: str) -> None:
        async with self._sessions.begin() as session:
            if not await first_delivery(
                session, orm.processed_events, "notifier.rejected", event_id
            ):
                return
            await session.execute(
                insert(orm.rejections)
                .values(
                    rejection_id=str(event.get("rejectionId") or event_id),
                    source=str(event.get("source")),
                    event=event,
                )
                .on_conflict_do_nothing(index_elements=["rejection_id"])
            )
