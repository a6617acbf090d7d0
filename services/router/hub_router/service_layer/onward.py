"""Onward referrals: the link worker sends the person on; the organisation answers; the sweep
nudges and declines the unanswered ones. One transaction per change.

Every change locks the link worker's Task row first, then the onward row (the router's one
lock order: Task rows, then anything else), because an organisation's answer may also change
the link worker's Task (support offered, connected to services: `domain/onward.py`). Each
change records its `referrals.onward` event, the link worker's new Task version when it
changed, any alert and the audit entry in its unit of work, published if it commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.needs import NeedCategory
from hub_common.messaging.onward import OnwardKind
from hub_common.messaging.topics import Topics
from hub_common.region.directory import fhir_id
from hub_common.security.audit import AuditEntry
from hub_router.adapters.alerts import onward_no_response_alert
from hub_router.adapters.fhir_onward import (
    ConsentToShare,
    PersonToShare,
    onward_service_request,
    onward_task,
)
from hub_router.adapters.service_lookup import ServiceLookup
from hub_router.adapters.unit_of_work import RouterUnitOfWork, Sessions, Units, units_for
from hub_router.domain.access import Viewer
from hub_router.domain.events import OnwardReferralChanged, OnwardReferralExpired
from hub_router.domain.offers import TaskNotVisible
from hub_router.domain.onward import (
    DEFAULT_ANSWER_WORKING_DAYS,
    OPEN_PARENT,
    AnswerDeadline,
    OnwardReferral,
    with_onward_support,
)
from hub_router.domain.task_status import TransitionRefused
from hub_router.service_layer.recording import record_change
from hub_router.service_layer.restriction import refuse_if_restricted

log = logging.getLogger(__name__)

ONWARD_PREFIX = "onward-"
"""Onward Task ids start with this, so they never clash with referral ids on `/fhir/Task`."""


class UnknownService(LookupError):
    """The directory lists no such service (or no longer): a 422 naming the `service` field."""


@dataclass(frozen=True)
class ReferOnward:
    """A link worker sends the person they hold to a directory service, with their consent."""

    referral_id: str
    worker_id: str
    service_id: str
    need: NeedCategory
    person: PersonToShare
    consent: ConsentToShare
    note: str | None = None
    traceparent: str | None = None
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class AnswerDeadlines:
    """Working days an organisation has to answer: the hub's default, or a service's own."""

    default_working_days: int = DEFAULT_ANSWER_WORKING_DAYS
    by_service: Mapping[str, int] | None = None

    def for_service(self, service_id: str) -> AnswerDeadline:
        days = (self.by_service or {}).get(service_id, self.default_working_days)
        return AnswerDeadline(days)


class OnwardReferrals:
    """The use cases of onward referral (HTTP entrypoints: `entrypoints/http_onward.py`)."""

    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        *,
        lookup: ServiceLookup | None = None,
        deadlines: AnswerDeadlines | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        units: Units | None = None,
    ) -> None:
        self._units = units_for(sessions, topics, units, lookup)
        self._topics = topics
        self._deadlines = deadlines or AnswerDeadlines()
        self._clock = clock

    # -- the link worker -------------------------------------------------------------------

    async def refer(self, command: ReferOnward) -> dict[str, Any]:
        """Create the onward ServiceRequest and its Task (requested, awaiting response)."""
        now = self._clock()
        async with self._units() as uow:
            stored = await uow.tasks.lock(command.referral_id)
            if stored is None or stored.task.owner != command.worker_id:
                raise TaskNotVisible(command.referral_id)
            await refuse_if_restricted(uow, stored)
            if stored.task.status not in OPEN_PARENT:
                raise TransitionRefused(
                    f"only a referral you have accepted and not closed can be referred onward "
                    f"(it is {stored.task.status})"
                )
            service = await uow.onward.find_service(command.service_id)
            if service is None:
                raise UnknownService(f"the directory lists no service {command.service_id!r}")
            if not service.active:
                raise TransitionRefused(
                    f"service {command.service_id} is withdrawn or temporarily closed"
                )
            if await uow.onward.open_to_service(command.referral_id, service.service_id):
                raise TransitionRefused(
                    f"the person already has an open onward referral to {service.service_id}"
                )
            deadline = self._deadlines.for_service(service.service_id)
            onward = OnwardReferral(
                onward_id=f"{ONWARD_PREFIX}{uuid.uuid4()}",
                referral_id=command.referral_id,
                service_id=service.service_id,
                service_name=service.service_name,
                organisation_id=service.organisation_id,
                organisation_name=service.organisation_name,
                organisation_email=service.organisation_email,
                need=command.need,
                sent_by=command.worker_id,
                sent_at=now,
                due_at=deadline.due(now),
                nudge_at=deadline.nudge(now),
            )
            request = onward_service_request(onward, command.person, command.consent, command.note)
            task = onward_task(onward, stored.episode_id, now)
            await uow.onward.add(onward, request, task)
            uow.record(OnwardReferralChanged(onward, "sent", now, command.traceparent))
            if command.audit is not None:
                uow.record(command.audit.about((command.referral_id, onward.onward_id)))
        log.info("referral %s referred onward as %s", command.referral_id, onward.onward_id)
        return task

    # -- the organisation ------------------------------------------------------------------

    async def answer(
        self,
        onward_id: str,
        organisation_id: str,
        change: Callable[[OnwardReferral], OnwardReferral],
        kind: OnwardKind,
        traceparent: str | None = None,
        audit: AuditEntry | None = None,
    ) -> dict[str, Any]:
        """The organisation moves its onward Task (accept, decline, attendance); to any other
        organisation it does not exist."""
        now = self._clock()
        async with self._units() as uow:
            found = await uow.onward.parent_of(onward_id)
            if found is None or found[1] != organisation_id:
                raise TaskNotVisible(onward_id)
            task = await self._apply(uow, found[0], onward_id, change, kind, now, traceparent)
            if audit is not None:
                uow.record(audit)
        return task

    async def _apply(
        self,
        uow: RouterUnitOfWork,
        referral_id: str,
        onward_id: str,
        change: Callable[[OnwardReferral], OnwardReferral],
        kind: OnwardKind,
        now: datetime,
        traceparent: str | None,
    ) -> dict[str, Any]:
        stored = await uow.tasks.lock(referral_id)
        onward = await uow.onward.lock(onward_id)
        if stored is None or onward is None:
            raise TaskNotVisible(onward_id)
        after = change(onward)
        if kind in ("accepted", "declined") and after.answered_at is None:
            after = replace(after, answered_at=now)  # how fast services answer (search)
        if kind == "accepted":  # the organisation took the person on: one place fewer
            await uow.directory.take_place(fhir_id("HealthcareService", after.service_id))
        task = onward_task(after, stored.episode_id, now)
        await uow.onward.save(after, task)
        uow.record(OnwardReferralChanged(after, kind, now, traceparent))
        parent = with_onward_support(stored.task, after)
        if parent is not None:
            await record_change(
                uow, self._topics, stored, replace(stored, task=parent), now, traceparent
            )
        log.info("onward referral %s now %s %s", onward_id, after.status, after.step)
        return task

    async def read_for_organisation(
        self, onward_id: str, organisation_id: str, what: str = "task"
    ) -> dict[str, Any]:
        async with self._units() as uow:
            if await uow.onward.owner_of(onward_id) != organisation_id:
                raise TaskNotVisible(onward_id)
            found = await uow.onward.read(onward_id, what)
        if found is None:
            raise TaskNotVisible(onward_id)
        return found

    async def search_for_organisation(
        self,
        organisation_id: str,
        status: str | None,
        limit: int,
        referral_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The onward Tasks sent to the organisation (of one referral, when given)."""
        async with self._units() as uow:
            return await uow.onward.search(
                organisation_id=organisation_id,
                referral_id=referral_id,
                status=status,
                limit=limit,
            )

    # -- the link worker's and coordinators' view ------------------------------------------

    @staticmethod
    async def _visible_referral(uow: RouterUnitOfWork, viewer: Viewer, referral_id: str) -> None:
        found = await uow.queries.owner_and_borough(referral_id)
        if found is None or not viewer.can_see(*found):
            raise TaskNotVisible(referral_id)

    async def of_referral(
        self, viewer: Viewer, referral_id: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The onward Tasks `partOf` a referral the caller may see (its holder, coordinators)."""
        async with self._units() as uow:
            await self._visible_referral(uow, viewer, referral_id)
            return await uow.onward.search(referral_id=referral_id, limit=limit)

    async def read_for_viewer(self, viewer: Viewer, onward_id: str) -> dict[str, Any]:
        """One onward Task, for whoever may see the referral it is part of."""
        async with self._units() as uow:
            found = await uow.onward.parent_of(onward_id)
            if found is None:
                raise TaskNotVisible(onward_id)
            try:
                await self._visible_referral(uow, viewer, found[0])
            except TaskNotVisible:
                raise TaskNotVisible(onward_id) from None
            task = await uow.onward.read(onward_id)
        if task is None:
            raise TaskNotVisible(onward_id)
        return task

    # -- the sweep -------------------------------------------------------------------------

    async def sweep(self, limit: int = 100) -> int:
        """Nudge the organisations of unanswered referrals at half their deadline, and decline
        those still unanswered at it (an alert back to the link worker). Returns how many were
        due (a full batch means there may be more)."""
        now = self._clock()
        async with self._units() as uow:
            due = await uow.onward.due_ids(now, limit)
        changed = 0
        for onward_id, referral_id in due:
            async with self._units() as uow:
                changed += await self._check(uow, referral_id, onward_id, now)
        if changed:
            log.info("onward sweep nudged or declined %d referrals", changed)
        return len(due)

    async def _check(
        self, uow: RouterUnitOfWork, referral_id: str, onward_id: str, now: datetime
    ) -> int:
        stored = await uow.tasks.lock(referral_id)
        onward = await uow.onward.lock(onward_id)
        if stored is None or onward is None:
            return 0
        if onward.expired(now):
            await self._apply(uow, referral_id, onward_id, lambda o: o.expire(now), "expired",
                              now, None)  # fmt: skip
            alert = onward_no_response_alert(
                referral_id=referral_id,
                onward_id=onward_id,
                service_id=onward.service_id,
                borough=stored.borough,
                worker=onward.sent_by,
                due_at=onward.due_at,
                raised_at=now,
            )
            uow.record(OnwardReferralExpired(referral_id, alert))
            return 1
        if onward.nudge_due(now):
            nudged = onward.nudged(now)
            await uow.onward.save(nudged)
            uow.record(OnwardReferralChanged(nudged, "nudged", now, None))
            return 1
        await uow.onward.save(onward)  # a check that found nothing: next one set
        return 0
