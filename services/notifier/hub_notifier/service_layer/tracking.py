"""Tracking use cases: record every referral, Task version and rejection the hub publishes, and
stage the referrer's notifications in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.inbox import first_delivery
from hub_common.service_area import borough_of
from hub_notifier.adapters import orm
from hub_notifier.adapters.rejection_task import rejection_task
from hub_notifier.adapters.requester import (
    postcode_of,
    referrer_email,
    rejection_requester,
    requester_key,
    service_request_requester,
    source_of,
)
from hub_notifier.adapters.task_facts import TaskFacts, task_facts
from hub_notifier.domain.message_back import message_back
from hub_notifier.service_layer.notifying import Announcer, Change

log = logging.getLogger(__name__)


class TrackingService:
    """Keeps the current Task and its full timeline per referral. Every method is idempotent:
    a redelivered event is recognised by its event id, a repeated Task version by its number,
    and neither notifies anyone twice."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        announcer: Announcer,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer
        self._on_commit = on_commit

    async def record_request(self, request: dict[str, Any], event_id: str) -> None:
        postcode = postcode_of(request)
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
                    borough=borough_of(postcode) if postcode else None,
                )
                .on_conflict_do_nothing(index_elements=["referral_id"])
            )

    async def record_task(
        self, task: dict[str, Any], event_id: str, traceparent: str | None = None
    ) -> None:
        """Keep every version in the timeline; the current row only moves forward; each new
        version is announced to the referrer."""
        facts = task_facts(task)
        async with self._sessions.begin() as session:
            if not await first_delivery(session, orm.processed_events, "notifier.tasks", event_id):
                return
            if not await self._keep_version(session, facts, task):
                return  # a version already recorded (republished): already announced
            email_to, source = await self._request_facts(session, facts.referral_id)
            if facts.source == "unknown" and source:
                facts = replace(facts, source=source)
            staged = await self._announcer.announce(
                session, self._change(facts, email_to, traceparent)
            )
        if staged:
            self._on_commit()
        log.info(
            "referral %s v%d %s: %d notifications",
            facts.referral_id,
            facts.version,
            facts.status,
            staged,
        )

    async def record_rejection(
        self, event: dict[str, Any], event_id: str, traceparent: str | None = None
    ) -> None:
        """Keep the rejection, show it as a rejected Task, and tell its referrer."""
        # Older rejected events may lack an id: the event id then names the rejection.
        event = {**event, "rejectionId": event.get("rejectionId") or event_id}
        requester = rejection_requester(event)
        task = rejection_task(event, requester)
        facts = task_facts(task)
        contact = event.get("referrerContact") or {}
        async with self._sessions.begin() as session:
            if not await first_delivery(
                session, orm.processed_events, "notifier.rejected", event_id
            ):
                return
            inserted = await session.scalar(
                insert(orm.rejections)
                .values(
                    rejection_id=facts.referral_id, source=str(event.get("source")), event=event
                )
                .on_conflict_do_nothing(index_elements=["rejection_id"])
                .returning(orm.rejections.c.rejection_id)
            )
            if inserted is None:
                return  # the same rejection, published again
            await self._keep_version(session, facts, task)
            email = contact.get("email")
            staged = await self._announcer.announce(
                session, self._change(facts, str(email) if email else None, traceparent)
            )
        if staged:
            self._on_commit()
        log.info("rejection %s from %s: %d notifications", facts.referral_id, facts.source, staged)

    async def _keep_version(
        self, session: AsyncSession, facts: TaskFacts, task: dict[str, Any]
    ) -> bool:
        """Record one Task version; False when that version was already recorded."""
        new = await session.scalar(
            insert(orm.task_history)
            .values(referral_id=facts.referral_id, version=facts.version, task=task)
            .on_conflict_do_nothing(index_elements=["referral_id", "version"])
            .returning(orm.task_history.c.version)
        )
        if new is None:
            return False
        values = {
            "referral_id": facts.referral_id,
            "version": facts.version,
            "status": facts.status,
            "business_status": facts.business_status,
            "requester_org": facts.requester_org,
            "task": task,
            "last_updated": facts.last_updated,
        }
        upsert = insert(orm.tasks).values(values)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["referral_id"],
                set_=values,
                where=orm.tasks.c.version < upsert.excluded.version,
            )
        )
        return True

    async def _request_facts(
        self, session: AsyncSession, referral_id: str
    ) -> tuple[str | None, str | None]:
        """The referrer's e-mail address and the source, from the ServiceRequest when known.

        A Task can be processed before its ServiceRequest (two topics, no order between them):
        then there is no address to e-mail, and the change reaches only subscriptions.
        """
        sr = orm.service_requests
        row = (
            await session.execute(
                select(sr.c.resource, sr.c.source).where(sr.c.referral_id == referral_id)
            )
        ).first()
        return (referrer_email(row.resource), row.source) if row else (None, None)

    @staticmethod
    def _change(facts: TaskFacts, email_to: str | None, traceparent: str | None) -> Change:
        return Change(
            referral_id=facts.referral_id,
            status=facts.status,
            business_status=facts.business_status,
            requester_org=facts.requester_org,
            source=facts.source,
            referrer_reference=facts.referrer_reference,
            message_back=message_back(facts.status, facts.business_status, facts.connected_to),
            email_to=email_to,
            traceparent=traceparent,
        )
