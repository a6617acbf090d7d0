"""Service level timers in PostgreSQL (`router.sla_timers`), and how their alerts are published
(the unit of work stages them with the row that says so: an alert is published if and only if
its row says it was raised)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_router.adapters import orm
from hub_router.domain.sla import Level, Rule, SlaTimer

BREACHED = "SlaBreached"
RESOLVED = "SlaBreachResolved"


def _raised_to_json(raised: frozenset[tuple[Rule, Level]]) -> list[str]:
    return sorted(f"{rule}:{level}" for rule, level in raised)


def _raised_from_json(data: Sequence[str]) -> frozenset[tuple[Rule, Level]]:
    pairs = (item.split(":", 1) for item in data)
    return frozenset((Rule(rule), Level(level)) for rule, level in pairs)


def _from_row(row: Row[Any]) -> SlaTimer:
    return SlaTimer(
        referral_id=row.referral_id,
        borough=row.borough,
        accepted_at=row.accepted_at,
        first_contact_at=row.first_contact_at,
        closed_at=row.closed_at,
        raised=_raised_from_json(row.raised),
    )


def due(now: datetime, limit: int) -> Select[Any]:
    """Timers whose next deadline has passed, soonest first, from their own partial index (the
    closed referrals, and those with every alert raised, are never read)."""
    return (
        select(orm.sla_timers)
        .where(orm.sla_timers.c.next_due_at.is_not(None), orm.sla_timers.c.next_due_at <= now)
        .order_by(orm.sla_timers.c.next_due_at)
        .limit(limit)
    )


async def lock_due(session: AsyncSession, now: datetime, limit: int) -> list[SlaTimer]:
    """Timers due (see `due`) that no other transaction holds (SKIP LOCKED: replicas sweep
    disjoint batches; a Task change holding one goes first, the next sweep sees the result)."""
    rows = (await session.execute(due(now, limit).with_for_update(skip_locked=True))).all()
    return [_from_row(row) for row in rows]


async def lock_timer(session: AsyncSession, referral_id: str) -> SlaTimer | None:
    """One referral's timer, locked until the transaction ends (waits for a sweep holding it)."""
    row = (
        await session.execute(
            select(orm.sla_timers)
            .where(orm.sla_timers.c.referral_id == referral_id)
            .with_for_update()
        )
    ).first()
    return _from_row(row) if row else None


async def start(session: AsyncSession, timer: SlaTimer, next_due_at: datetime | None) -> None:
    """A referral was accepted: its clocks start (a repeat of the same acceptance is ignored)."""
    await session.execute(
        pg_insert(orm.sla_timers)
        .values(
            referral_id=timer.referral_id,
            borough=timer.borough,
            accepted_at=timer.accepted_at,
            raised=_raised_to_json(timer.raised),
            next_due_at=next_due_at,
        )
        .on_conflict_do_nothing(index_elements=["referral_id"])
    )


async def save(session: AsyncSession, timer: SlaTimer, next_due_at: datetime | None) -> None:
    """Write a locked timer back: what happened, what was raised, the next deadline."""
    await session.execute(
        update(orm.sla_timers)
        .where(orm.sla_timers.c.referral_id == timer.referral_id)
        .values(
            first_contact_at=timer.first_contact_at,
            closed_at=timer.closed_at,
            raised=_raised_to_json(timer.raised),
            next_due_at=next_due_at,
        )
    )


class SlaClocks:
    """The service level timers, in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_due(self, now: datetime, limit: int) -> list[SlaTimer]:
        return await lock_due(self._session, now, limit)

    async def lock(self, referral_id: str) -> SlaTimer | None:
        return await lock_timer(self._session, referral_id)

    async def start(self, timer: SlaTimer, next_due_at: datetime | None) -> None:
        await start(self._session, timer, next_due_at)

    async def save(self, timer: SlaTimer, next_due_at: datetime | None) -> None:
        await save(self._session, timer, next_due_at)
