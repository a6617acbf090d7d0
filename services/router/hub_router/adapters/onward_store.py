"""Onward referrals in PostgreSQL (`router.onward_referrals`), and how their events are
published (the unit of work writes them to the outbox at commit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.systems import PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.onward import (
    ONWARD_CHANGED,
    ONWARD_NUDGED,
    ONWARD_SENT,
    OnwardEvent,
    OnwardKind,
)
from hub_common.messaging.outbox import OutgoingEvent
from hub_common.messaging.topics import Topics
from hub_router.adapters import orm
from hub_router.adapters.service_lookup import ReadModelServiceLookup, ServiceEntry, ServiceLookup
from hub_router.domain.onward import OnwardReferral, OnwardStep
from hub_router.domain.task_status import TaskStatus

_TIMES = ("sent_at", "due_at", "nudge_at", "nudged_at", "answered_at")


def _record(onward: OnwardReferral) -> dict[str, Any]:
    return {
        "onward_id": onward.onward_id,
        "referral_id": onward.referral_id,
        "service_id": onward.service_id,
        "service_name": onward.service_name,
        "organisation_id": onward.organisation_id,
        "organisation_name": onward.organisation_name,
        "organisation_email": onward.organisation_email,
        "need": onward.need.value,
        "sent_by": onward.sent_by,
        "reason": onward.reason,
        **{name: (moment.isoformat() if (moment := getattr(onward, name)) else None)
           for name in _TIMES},
    }  # fmt: skip


def _from_row(row: Row[Any]) -> OnwardReferral:
    record = row.record
    times = {
        name: datetime.fromisoformat(record[name]) if record.get(name) else None for name in _TIMES
    }
    return OnwardReferral(
        onward_id=row.onward_id,
        referral_id=row.referral_id,
        service_id=record["service_id"],
        service_name=record["service_name"],
        organisation_id=row.organisation_id,
        organisation_name=record["organisation_name"],
        organisation_email=record.get("organisation_email"),
        need=NeedCategory(record["need"]),
        sent_by=record["sent_by"],
        sent_at=times["sent_at"],  # type: ignore[arg-type]
        due_at=times["due_at"],  # type: ignore[arg-type]
        nudge_at=times["nudge_at"],  # type: ignore[arg-type]
        status=TaskStatus(row.status),
        step=OnwardStep(row.business_status),
        version=row.version,
        reason=record.get("reason"),
        nudged_at=times["nudged_at"],
        answered_at=times["answered_at"],
    )


def _columns(onward: OnwardReferral, task: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": onward.status.value,
        "business_status": onward.step.value,
        "version": onward.version,
        "record": _record(onward),
        "task": task,
        "next_check_at": onward.next_check_at,
        "updated_at": func.now(),
    }


async def insert_new(
    session: AsyncSession, onward: OnwardReferral, request: dict[str, Any], task: dict[str, Any]
) -> None:
    await session.execute(
        insert(orm.onward_referrals).values(
            onward_id=onward.onward_id,
            referral_id=onward.referral_id,
            organisation_id=onward.organisation_id,
            request=request,
            **_columns(onward, task),
        )
    )


async def save(
    session: AsyncSession, onward: OnwardReferral, task: dict[str, Any] | None = None
) -> None:
    """Write a locked onward referral back (with its new Task snapshot when it changed)."""
    values = _columns(onward, task or {})
    if task is None:
        values.pop("task")
    await session.execute(
        update(orm.onward_referrals)
        .where(orm.onward_referrals.c.onward_id == onward.onward_id)
        .values(**values)
    )


async def lock(session: AsyncSession, onward_id: str) -> OnwardReferral | None:
    row = (
        await session.execute(
            select(orm.onward_referrals)
            .where(orm.onward_referrals.c.onward_id == onward_id)
            .with_for_update()
        )
    ).first()
    return _from_row(row) if row else None


async def parent_of(session: AsyncSession, onward_id: str) -> tuple[str, str] | None:
    """(referral id, organisation id) of an onward referral, unlocked: a change locks the link
    worker's Task first, then the onward row (the one lock order, so no deadlock)."""
    row = (
        await session.execute(
            select(
                orm.onward_referrals.c.referral_id, orm.onward_referrals.c.organisation_id
            ).where(orm.onward_referrals.c.onward_id == onward_id)
        )
    ).first()
    return (row.referral_id, row.organisation_id) if row else None


async def due_ids(session: AsyncSession, now: datetime, limit: int) -> list[tuple[str, str]]:
    """(onward id, referral id) of unanswered referrals whose nudge or deadline has come, from
    their partial index, soonest first."""
    rows = (
        await session.execute(
            select(orm.onward_referrals.c.onward_id, orm.onward_referrals.c.referral_id)
            .where(
                orm.onward_referrals.c.next_check_at.is_not(None),
                orm.onward_referrals.c.next_check_at <= now,
            )
            .order_by(orm.onward_referrals.c.next_check_at)
            .limit(limit)
        )
    ).all()
    return [(row.onward_id, row.referral_id) for row in rows]


async def read(session: AsyncSession, onward_id: str, what: str = "task") -> dict[str, Any] | None:
    """The onward Task snapshot (`what` "task") or its ServiceRequest ("request")."""
    column = orm.onward_referrals.c[what]
    value: dict[str, Any] | None = await session.scalar(
        select(column).where(orm.onward_referrals.c.onward_id == onward_id)
    )
    return value


async def owner_of(session: AsyncSession, onward_id: str) -> str | None:
    found: str | None = await session.scalar(
        select(orm.onward_referrals.c.organisation_id).where(
            orm.onward_referrals.c.onward_id == onward_id
        )
    )
    return found


async def search(
    session: AsyncSession,
    *,
    organisation_id: str | None = None,
    referral_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Onward Task snapshots, newest change first, of one organisation or one referral."""
    t = orm.onward_referrals
    query = select(t.c.task).order_by(t.c.updated_at.desc()).limit(limit)
    if organisation_id is not None:
        query = query.where(t.c.organisation_id == organisation_id)
    if referral_id is not None:
        query = query.where(t.c.referral_id == referral_id)
    if status is not None:
        query = query.where(t.c.status == status)
    return list((await session.scalars(query)).all())


EVENT_TYPES: dict[str, str] = {"sent": ONWARD_SENT, "nudged": ONWARD_NUDGED}


def onward_event(
    topics: Topics,
    onward: OnwardReferral,
    kind: OnwardKind,
    now: datetime,
    traceparent: str | None,
) -> OutgoingEvent:
    """One `referrals.onward` event, keyed by the link worker's referral id, so every event of
    one person's referral keeps its order."""
    event = OnwardEvent.model_validate(
        {
            "kind": kind,
            "onwardId": onward.onward_id,
            "referralId": onward.referral_id,
            "version": onward.version,
            "status": onward.status.value,
            "businessStatus": onward.step.value,
            "service": {
                "serviceId": onward.service_id,
                "serviceName": onward.service_name,
                "organisationId": onward.organisation_id,
                "organisationName": onward.organisation_name,
                "organisationEmail": onward.organisation_email,
            },
            "dueAt": onward.due_at,
            "occurredAt": now,
        }
    )
    return OutgoingEvent(
        topic=topics.onward,
        key=onward.referral_id,
        value=dumps(event.to_json()),
        envelope=Envelope.new(EVENT_TYPES.get(kind, ONWARD_CHANGED), PLAIN_JSON, traceparent),
    )


OPEN_ONWARD = (TaskStatus.REQUESTED.value, TaskStatus.ACCEPTED.value, TaskStatus.IN_PROGRESS.value)


class OnwardRepository:
    """Onward referrals, and the directory services they go to, in one transaction."""

    def __init__(self, session: AsyncSession, lookup: ServiceLookup | None = None) -> None:
        self._session = session
        self._lookup = lookup or ReadModelServiceLookup()

    async def find_service(self, service_id: str) -> ServiceEntry | None:
        return await self._lookup.find(self._session, service_id)

    async def open_to_service(self, referral_id: str, service_id: str) -> bool:
        """Whether the referral has an onward referral to this service still open."""
        t = orm.onward_referrals
        count = await self._session.scalar(
            select(func.count()).where(
                t.c.referral_id == referral_id,
                t.c.record["service_id"].astext == service_id,
                t.c.status.in_(OPEN_ONWARD),
            )
        )
        return bool(count)

    async def add(
        self, onward: OnwardReferral, request: dict[str, Any], task: dict[str, Any]
    ) -> None:
        await insert_new(self._session, onward, request, task)

    async def save(self, onward: OnwardReferral, task: dict[str, Any] | None = None) -> None:
        await save(self._session, onward, task)

    async def lock(self, onward_id: str) -> OnwardReferral | None:
        return await lock(self._session, onward_id)

    async def parent_of(self, onward_id: str) -> tuple[str, str] | None:
        return await parent_of(self._session, onward_id)

    async def due_ids(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        return await due_ids(self._session, now, limit)

    async def read(self, onward_id: str, what: str = "task") -> dict[str, Any] | None:
        return await read(self._session, onward_id, what)

    async def owner_of(self, onward_id: str) -> str | None:
        return await owner_of(self._session, onward_id)

    async def search(
        self,
        *,
        organisation_id: str | None = None,
        referral_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        return await search(
            self._session,
            organisation_id=organisation_id,
            referral_id=referral_id,
            status=status,
            limit=limit,
        )
