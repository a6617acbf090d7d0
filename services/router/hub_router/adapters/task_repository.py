"""Referral Tasks in PostgreSQL: rows <-> domain objects, with the locks the use cases need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, text, update
from sqlalchemy import exists as sql_exists
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, read_outputs
from hub_common.storage.db import array_parameter
from hub_router.adapters import orm
from hub_router.adapters.fhir_task import task_snapshot
from hub_router.adapters.practitioner_role import from_practitioner_role
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.offers import ReferralTask
from hub_router.domain.task_status import OPEN, BusinessStatus, TaskStatus

WORKER_LOCK_CLASS = 0x7A5C
"""The first key of each link worker's assignment lock (two-key advisory locks: a key space
apart from the one-key outbox lock). See `lock_workers`."""

# Taken in key order in one statement (the ordered subquery is evaluated, and so locked, in
# that order), so two transactions wanting overlapping workers never deadlock on them. Two
# workers whose ids hash alike share a lock: their changes wait for each other, nothing worse.
_LOCK_WORKERS_IN_ORDER = text(
    "select pg_advisory_xact_lock(:lock_class, key) from ("
    " select distinct hashtext(worker_id) as key from unnest(:worker_ids) as worker_id"
    " order by key) as keys"
).bindparams(array_parameter("worker_ids"))


@dataclass(frozen=True)
class StoredTask:
    """A Task row: the domain object plus what the router keeps beside it."""

    task: ReferralTask
    episode_id: str
    facts: dict[str, Any]  # requester, referrer identifier, authoredOn, routing facts
    offered_on: date | None = None

    @property
    def route(self) -> ReferralToRoute:
        return route_from_json(self.facts["route"])

    @property
    def borough(self) -> str | None:
        borough: str | None = self.facts["route"].get("borough")
        return borough

    @property
    def requester_org(self) -> str:
        """`system|value` of the referring organisation (as agencies' credentials name it)."""
        identifier = (self.facts.get("requester") or {}).get("identifier") or {}
        return f"{identifier.get('system', '')}|{identifier.get('value', '')}"


def route_to_json(route: ReferralToRoute) -> dict[str, Any]:
    data = asdict(route)
    return {
        key: sorted(value) if isinstance(value, frozenset) else value for key, value in data.items()
    }


def route_from_json(data: dict[str, Any]) -> ReferralToRoute:
    return ReferralToRoute(
        referral_id=data["referral_id"],
        episode_id=data["episode_id"],
        district=data["district"],
        borough=data.get("borough"),
        needs=frozenset(NeedCategory(n) for n in data.get("needs", ())),
        language=data.get("language"),
        interpreter_needed=bool(data.get("interpreter_needed")),
        risk_flagged=bool(data.get("risk_flagged")),
    )


def _outcomes_of(snapshot: dict[str, Any]) -> Outcomes | None:
    outcomes = read_outputs(snapshot)
    return None if outcomes.is_empty else outcomes


def _from_row(row: Row[Any]) -> StoredTask:
    snapshot = row.task
    return StoredTask(
        task=ReferralTask(
            referral_id=row.referral_id,
            status=TaskStatus(row.status),
            business_status=BusinessStatus(row.business_status),
            owner=row.owner,
            version=row.version,
            offers=tuple(row.offers),
            failed_offers=row.failed_offers,
            offer_expires_at=row.offer_expires_at,
            status_reason=(snapshot.get("statusReason") or {}).get("text"),
            outputs=_outcomes_of(snapshot),
        ),
        episode_id=row.episode_id,
        facts=row.facts,
        offered_on=row.offered_on,
    )


async def lock_workers(session: AsyncSession, worker_ids: Iterable[str]) -> None:
    """Hold the assignment lock of each of these link workers until this transaction ends.

    Why this keeps every capacity limit across replicas: a worker's load only ever grows by an
    offer to that worker (accepting, amending and later steps keep the owner; everything else
    lowers the load). Every change that offers (routing, re-offering after a decline or a
    deadline, assigning by hand, rebalancing) takes, before it reads any load, the lock of
    every worker it could offer to, and offers to nobody else; PostgreSQL releases the locks
    only after the commit is visible. So whoever reads a worker's load next, under the same
    lock, sees every offer made to them: two changes can never both give a worker their last
    free place. Changes about workers with nothing in common (other boroughs, say) do not wait
    for each other, on any replica.

    Deadlock-free: all of a transaction's worker locks are taken at once, in key order, after
    any Task row lock it needs (never before one), and nothing holding worker locks waits for
    a Task row lock.
    """
    ids = sorted(set(worker_ids))
    if ids:
        await session.execute(
            _LOCK_WORKERS_IN_ORDER, {"lock_class": WORKER_LOCK_CLASS, "worker_ids": ids}
        )


async def exists(session: AsyncSession, referral_id: str) -> bool:
    found = await session.scalar(
        select(orm.tasks.c.referral_id).where(orm.tasks.c.referral_id == referral_id)
    )
    return found is not None


async def lock_task(session: AsyncSession, referral_id: str) -> StoredTask | None:
    """The Task row, locked until the transaction ends (a concurrent change waits its turn)."""
    row = (
        await session.execute(
            select(orm.tasks).where(orm.tasks.c.referral_id == referral_id).with_for_update()
        )
    ).first()
    return _from_row(row) if row else None


async def lock_overdue_offers(session: AsyncSession, now: datetime, limit: int) -> list[StoredTask]:
    """Offers past their deadline that no other transaction holds (SKIP LOCKED).

    Each replica's sweeper claims a disjoint batch, and a row being accepted or declined right
    now is left to that change: the next sweep sees whether the offer is still open.
    """
    rows = (
        await session.execute(
            select(orm.tasks)
            .where(
                orm.tasks.c.offer_expires_at <= now,
                orm.tasks.c.status == TaskStatus.REQUESTED.value,
                orm.tasks.c.business_status == BusinessStatus.OFFERED.value,
                # A restricted person's offer is not moved on to anyone else (no routing).
                ~sql_exists().where(
                    or_(
                        orm.restrictions.c.subject_id == orm.tasks.c.referral_id,
                        orm.restrictions.c.subject_id == orm.tasks.c.episode_id,
                    )
                ),
            )
            .order_by(orm.tasks.c.offer_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [_from_row(row) for row in rows]


WAITING = select(orm.tasks).where(orm.AWAITING_ALLOCATION).order_by(orm.tasks.c.updated_at)
"""Referrals waiting for a coordinator, oldest first, from their own index (see orm.py)."""


async def lock_waiting(
    session: AsyncSession, boroughs: frozenset[str], limit: int
) -> list[StoredTask]:
    """Referrals waiting for a coordinator in `boroughs`, oldest first, that no other
    transaction holds (SKIP LOCKED: two coordinators rebalancing at once split the backlog)."""
    rows = (
        await session.execute(
            WAITING.where(orm.tasks.c.facts["route"]["borough"].astext.in_(sorted(boroughs)))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [_from_row(row) for row in rows]


async def active_workers(session: AsyncSession) -> list[LinkWorker]:
    roles = (
        await session.scalars(select(orm.link_workers.c.role).where(orm.link_workers.c.active))
    ).all()
    return [from_practitioner_role(role) for role in roles]


CASELOADS = (
    select(orm.tasks.c.owner, func.count()).where(orm.OPEN_CASELOAD).group_by(orm.tasks.c.owner)
)
"""Open referrals per worker, counted in the caseload index (see orm.py)."""


async def loads_by_day(
    session: AsyncSession, first_day: date, days: int
) -> dict[date, dict[str, Load]]:
    """Each worker's load on each of `days` days from `first_day`: open referrals, and
    referrals offered to them for that day (whatever became of them since)."""
    active: dict[str, int] = dict((await session.execute(CASELOADS)).all())
    per_day: dict[tuple[date, str], int] = {
        (day, owner): count
        for day, owner, count in (
            await session.execute(
                select(orm.tasks.c.offered_on, orm.tasks.c.owner, func.count())
                .where(
                    orm.tasks.c.owner.is_not(None),
                    orm.tasks.c.offered_on >= first_day,
                    orm.tasks.c.offered_on < first_day + timedelta(days=days),
                )
                .group_by(orm.tasks.c.offered_on, orm.tasks.c.owner)
            )
        ).all()
    }
    result: dict[date, dict[str, Load]] = {}
    for ahead in range(days):
        day = first_day + timedelta(days=ahead)
        owners = set(active) | {owner for (d, owner) in per_day if d == day}
        result[day] = {
            owner: Load(active=active.get(owner, 0), new_today=per_day.get((day, owner), 0))
            for owner in owners
        }
    return result


async def continuity_worker(session: AsyncSession, route: ReferralToRoute) -> str | None:
    """The worker holding another open referral for the same person, if any."""
    owner: str | None = await session.scalar(
        select(orm.tasks.c.owner)
        .where(
            orm.tasks.c.episode_id == route.episode_id,
            orm.tasks.c.referral_id != route.referral_id,
            orm.tasks.c.owner.is_not(None),
            orm.tasks.c.status.in_([s.value for s in OPEN]),
        )
        .order_by(orm.tasks.c.updated_at.desc())
        .limit(1)
    )
    return owner


def snapshot_of(stored: StoredTask, now: datetime) -> dict[str, Any]:
    """The FHIR Task to publish for this state."""
    task, facts = stored.task, stored.facts
    return task_snapshot(
        referral_id=task.referral_id,
        episode_id=stored.episode_id,
        version=task.version,
        status=task.status,
        business_status=task.business_status,
        owner=task.owner,
        requester=facts["requester"],
        referrer_identifier=facts["referrerIdentifier"],
        authored_on=facts.get("authoredOn"),
        last_modified=now,
        status_reason=task.status_reason,
        outcomes=task.outputs,
        offer_expires_at=task.offer_expires_at if task.offered_to else None,
        referral_version=int(facts.get("referralVersion", 1)),
    )


def _columns(stored: StoredTask, snapshot: dict[str, Any]) -> dict[str, Any]:
    task = stored.task
    return {
        "owner": task.owner,
        "status": task.status.value,
        "business_status": task.business_status.value,
        "version": task.version,
        "offered_on": stored.offered_on,
        "offer_expires_at": task.offer_expires_at,
        "offers": list(task.offers),
        "failed_offers": task.failed_offers,
        "task": snapshot,
        "facts": stored.facts,  # an amendment changes them
        "updated_at": func.now(),
    }


def new_row(stored: StoredTask, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The row of a Task's first version, as plain values (fit for a batch INSERT)."""
    if stored.task.version != 1:
        raise AssertionError("a new Task starts at version 1")
    columns = {k: v for k, v in _columns(stored, snapshot).items() if k != "updated_at"}
    return {
        "referral_id": stored.task.referral_id,
        "episode_id": stored.episode_id,
        "facts": stored.facts,
        **columns,
    }


async def save(
    session: AsyncSession, before: StoredTask | None, after: StoredTask, snapshot: dict[str, Any]
) -> None:
    """Write the new state; `before` None inserts. Refuses to skip or repeat a version."""
    if after.task.version != (before.task.version if before else 0) + 1:
        raise AssertionError("a change must raise the Task version by exactly one")
    if before is None:
        await session.execute(insert(orm.tasks).values(new_row(after, snapshot)))
        return
    result = await session.execute(
        update(orm.tasks)
        .where(
            and_(
                orm.tasks.c.referral_id == after.task.referral_id,
                orm.tasks.c.version == before.task.version,
            )
        )
        .values(**_columns(after, snapshot))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # The row is locked by this transaction, so this is a bug, never a race.
        raise AssertionError(f"Task {after.task.referral_id} changed under its lock")
