"""Routing use cases: keep the directory, and offer each new referral to the best link worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.envelope import Envelope
from hub_common.fhir_systems import FHIR_JSON
from hub_common.inbox import first_delivery
from hub_common.jsonio import dumps
from hub_common.outbox import OutgoingEvent, add_to_outbox
from hub_common.topics import Topics
from hub_router.adapters import orm
from hub_router.adapters.fhir_task import task_snapshot
from hub_router.adapters.practitioner_role import from_practitioner_role
from hub_router.adapters.service_request import read_service_request
from hub_router.domain.model import LinkWorker, Load
from hub_router.domain.policy import Decision, choose_worker
from hub_router.domain.task_status import OPEN, TaskStatus

log = logging.getLogger(__name__)

# One assignment at a time across all replicas: capacity checks and the offer they allow must
# not interleave, or two replicas could both give a worker their last free place.
ASSIGNMENT_LOCK_KEY = 0x7A5C

LOOKAHEAD_DAYS = 7  # a referral arriving on a day off is offered to whoever works soonest


class RoutingService:
    """Applies directory changes and routes new referrals, each in one transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: Topics,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._on_commit = on_commit
        self._clock = clock

    async def apply_directory_entry(self, worker_id: str, role: dict[str, Any] | None) -> None:
        """Upsert a worker from the compacted directory; a tombstone (None) removes them."""
        async with self._sessions.begin() as session:
            if role is None:
                await session.execute(
                    delete(orm.link_workers).where(orm.link_workers.c.worker_id == worker_id)
                )
                return
            worker = from_practitioner_role(role)
            values = {
                "worker_id": worker.worker_id,
                "role": role,
                "active": worker.active,
                "updated_at": func.now(),
            }
            await session.execute(
                insert(orm.link_workers)
                .values(values)
                .on_conflict_do_update(index_elements=["worker_id"], set_=values)
            )

    async def route(
        self, service_request: dict[str, Any], event_id: str, traceparent: str | None
    ) -> str | None:
        """Offer a new referral to a link worker; returns the worker id, or None if it must wait.

        Idempotent: a redelivered event, or a second event for a referral already routed,
        changes nothing.
        """
        facts = read_service_request(service_request)
        referral = facts.route
        now = self._clock()
        async with self._sessions.begin() as session:
            if not await first_delivery(
                session, orm.processed_events, "router.requested", event_id
            ):
                return None
            await session.execute(
                text("select pg_advisory_xact_lock(:key)"), {"key": ASSIGNMENT_LOCK_KEY}
            )
            if await session.scalar(
                select(orm.tasks.c.owner).where(orm.tasks.c.referral_id == referral.referral_id)
            ):
                return None
            workers = await self._workers(session)
            continuity = await session.scalar(
                select(orm.tasks.c.owner).where(
                    orm.tasks.c.episode_id == referral.episode_id,
                    orm.tasks.c.status.in_([s.value for s in OPEN]),
                )
            )
            decision, offer_day = Decision(None), now.date()
            for ahead in range(LOOKAHEAD_DAYS):
                offer_day = now.date() + timedelta(days=ahead)
                loads = await self._loads(session, offer_day)
                decision = choose_worker(referral, workers, loads, offer_day, continuity)
                if decision.worker_id:
                    break
            business_status = "offered" if decision.worker_id else "awaiting-allocation"
            task = task_snapshot(
                referral_id=referral.referral_id,
                episode_id=referral.episode_id,
                version=1,
                status=TaskStatus.REQUESTED,
                business_status=business_status,
                owner=decision.worker_id,
                requester=facts.requester,
                referrer_identifier=facts.referrer_identifier,
                authored_on=facts.authored_on,
                last_modified=now,
            )
            await session.execute(
                insert(orm.tasks)
                .values(
                    referral_id=referral.referral_id,
                    episode_id=referral.episode_id,
                    owner=decision.worker_id,
                    status=TaskStatus.REQUESTED.value,
                    business_status=business_status,
                    version=1,
                    offered_on=offer_day if decision.worker_id else None,
                    offers=[decision.worker_id] if decision.worker_id else [],
                    facts={
                        "requester": facts.requester,
                        "referrerIdentifier": facts.referrer_identifier,
                        "authoredOn": facts.authored_on,
                        "route": _route_json(facts.route),
                    },
                    task=task,
                )
                .on_conflict_do_nothing(index_elements=["referral_id"])
            )
            await session.execute(
                insert(orm.decisions).values(
                    referral_id=referral.referral_id, record=decision.explain()
                )
            )
            await add_to_outbox(
                session,
                orm.outbox,
                [
                    OutgoingEvent(
                        topic=self._topics.tasks,
                        key=referral.referral_id,
                        value=dumps(task),
                        envelope=Envelope.new("TaskChanged", FHIR_JSON, traceparent),
                    )
                ],
            )
        self._on_commit()
        log.info(
            "referral %s %s %s", referral.referral_id, business_status, decision.worker_id or ""
        )
        return decision.worker_id

    async def _workers(self, session: AsyncSession) -> list[LinkWorker]:
        roles = (
            await session.scalars(select(orm.link_workers.c.role).where(orm.link_workers.c.active))
        ).all()
        return [from_practitioner_role(role) for role in roles]

    async def _loads(self, session: AsyncSession, day: date) -> dict[str, Load]:
        open_statuses = [s.value for s in OPEN]
        rows = await session.execute(
            select(
                orm.tasks.c.owner,
                func.count().filter(orm.tasks.c.status.in_(open_statuses)),
                func.count().filter(and_(orm.tasks.c.offered_on == day)),
            )
            .where(orm.tasks.c.owner.is_not(None))
            .group_by(orm.tasks.c.owner)
        )
        return {
            owner: Load(active=active, new_today=new_today) for owner, active, new_today in rows
        }


def _route_json(route: Any) -> dict[str, Any]:
    data = asdict(route)
    return {
        key: sorted(value) if isinstance(value, frozenset) else value for key, value in data.items()
    }
