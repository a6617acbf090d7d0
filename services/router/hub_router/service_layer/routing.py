"""Routing use cases: keep the directory, and every change that chooses a link worker.

Offering a new referral, re-offering a declined or unanswered one, assigning one by hand and
rebalancing all read worker loads and then add to one: each holds the assignment lock of every
worker it could offer to (`task_repository.lock_workers`, the workers covering the referrals'
areas, or the coordinator's choice) from before it reads the loads until it commits, and
offers only to workers it read with those locks held. So no two of them, on any replica, can
both give a worker their last free place, while changes about different workers (other
boroughs) decide in parallel. Why that is enough is in `lock_workers`'s docstring.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common import tracing
from hub_common.audit import stage_audit
from hub_common.inbox import first_delivery
from hub_common.metrics import ASSIGNMENT_DECISIONS, OFFERS_TIMED_OUT, count_on_commit
from hub_common.topics import Topics
from hub_router.adapters import orm
from hub_router.adapters import task_repository as repo
from hub_router.adapters.alerts import Why, awaiting_allocation_alert
from hub_router.adapters.batch_lookups import BatchLookups
from hub_router.adapters.practitioner_role import from_practitioner_role
from hub_router.adapters.service_request import ReferralFacts, read_service_request
from hub_router.adapters.worker_roster import WorkerRoster
from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.offers import OfferTimeout, ReferralTask, TaskNotVisible
from hub_router.domain.policy import (
    WAIVABLE,
    Decision,
    choose_worker,
    could_take,
    earliest_day,
    match_score,
    score,
)
from hub_router.domain.rebalance import assign_optimally
from hub_router.domain.task_status import TransitionRefused
from hub_router.service_layer.commands import AssignByHand, DeclineOffer, RebalanceWaiting
from hub_router.service_layer.recording import DeferredWrites, TaskChanged, record_change

log = logging.getLogger(__name__)

LOOKAHEAD_DAYS = 7  # a referral arriving on a day off is offered to whoever works soonest
NO_ANSWER = "no answer before the offer's deadline"


class UnknownWorker(LookupError):
    """No active link worker has this id."""


class RoutingService:
    """Applies directory changes, and offers referrals to link workers, one transaction each."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: Topics,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        max_failed_offers: int = 3,
        offer_timeout: OfferTimeout | None = None,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._on_commit = on_commit
        self._clock = clock
        self._max_failed_offers = max_failed_offers
        self._offer_timeout = offer_timeout or OfferTimeout()
        self._roster = WorkerRoster()

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
        """Offer a new referral to a link worker; returns the worker id, or None if it waits.

        Idempotent: a redelivered event, or a second event for a referral the router already
        holds, changes nothing (the first publishes version 1, nothing else ever does).
        """
        now = self._clock()
        facts = read_service_request(service_request)
        async with self._sessions.begin() as session:
            workers = await self._lock_for(session, [facts.route])
            changed = await self._route_in(
                session, service_request, event_id, traceparent, now, None, facts, workers
            )
        if changed is None:
            return None
        self._on_commit()
        log.info(
            "referral %s %s %s",
            changed.stored.task.referral_id,
            changed.stored.task.business_status,
            changed.stored.task.owner or "",
        )
        return changed.stored.task.owner

    async def route_batch(self, requests: Sequence[tuple[dict[str, Any], str, str | None]]) -> int:
        """Offer many new referrals in ONE transaction, holding the assignment locks of every
        worker who could take one of them.

        The directory and the loads are read once, and the loads are kept up to date in memory
        as offers are made, instead of being aggregated again for every referral. A referral
        that cannot be routed rolls back alone (it is logged by id and skipped, as `route`
        would refuse it). Returns how many were offered or set waiting.

        The batch is first tried without savepoints (two round trips fewer per referral, and no
        one-off savepoint statements evicting the useful ones from asyncpg's statement cache);
        only when a referral is refused is it redone with a savepoint per referral.
        """
        # Even a batch of one: under a steady trickle most batches are, and the savepoint path
        # looks everything up referral by referral.
        try:
            return await self._route_all(requests, savepoints=False)
        except _NeedsSavepoints:
            pass  # rolled back whole, loads and all; the next try reads them afresh
        return await self._route_all(requests, savepoints=True)

    async def _route_all(
        self, requests: Sequence[tuple[dict[str, Any], str, str | None]], *, savepoints: bool
    ) -> int:
        now = self._clock()
        done = 0
        parsed: list[ReferralFacts | None] = [None] * len(requests)
        if not savepoints:
            # Each ServiceRequest read once; what the batch must look up, looked up for all.
            try:
                parsed = [read_service_request(request) for request, _, _ in requests]
            except ValueError as error:
                raise _NeedsSavepoints from error
        async with self._sessions.begin() as session, tracing.PerMessage() as each:
            workers = await self._lock_for(session, _routes_of(requests, parsed))
            view = _BatchView(workers, await repo.loads_by_day(session, now.date(), LOOKAHEAD_DAYS))
            if not savepoints:
                view.lookups = await BatchLookups.load(
                    session,
                    [facts.route for facts in parsed if facts],
                    [event_id for _, event_id, _ in requests],
                )
                view.deferred = DeferredWrites()
            for (service_request, event_id, traceparent), facts in zip(
                requests, parsed, strict=True
            ):
                each.enter(traceparent)  # its log lines carry its trace id
                try:
                    async with session.begin_nested() if savepoints else contextlib.nullcontext():
                        changed = await self._route_in(
                            session, service_request, event_id, traceparent, now, view, facts
                        )
                except ValueError as error:
                    if not savepoints:
                        raise _NeedsSavepoints from error
                    log.error(
                        "skipped event %s on referrals.requested: %s",
                        event_id,
                        type(error).__name__,
                    )
                    continue
                if changed is not None:
                    view.took(changed.stored)
                    done += 1
            if view.deferred:
                await view.deferred.write(session)
        self._on_commit()
        log.info("routed a batch of %d referrals (%d new)", len(requests), done)
        return done

    async def _route_in(
        self,
        session: AsyncSession,
        service_request: dict[str, Any],
        event_id: str,
        traceparent: str | None,
        now: datetime,
        view: _BatchView | None,
        facts: ReferralFacts | None = None,
        workers: Sequence[LinkWorker] | None = None,
    ) -> TaskChanged | None:
        """Create and offer one new referral; None when it is a redelivery or already held.
        The caller holds the locks of the workers covering its area: two replicas given the
        same referral during a consumer group rebalance wait for each other, so cannot both
        create it (and were the directory to change between them, the second's insert of the
        same Task fails and its batch is retried, finding the referral held)."""
        facts = facts or read_service_request(service_request)
        referral = facts.route
        if view and view.lookups:
            if not view.lookups.is_new(event_id, referral.referral_id):
                return None
        elif not await first_delivery(
            session, orm.processed_events, "router.requested", event_id
        ) or await repo.exists(session, referral.referral_id):
            return None
        new = repo.StoredTask(
            task=ReferralTask(referral.referral_id),
            episode_id=referral.episode_id,
            facts={
                "requester": facts.requester,
                "referrerIdentifier": facts.referrer_identifier,
                "authoredOn": facts.authored_on,
                "route": repo.route_to_json(referral),
            },
        )
        return await self._offer_or_wait(
            session, None, new, now, traceparent, {"event": "referral received"}, view, workers
        )

    async def decline(self, command: DeclineOffer) -> TaskChanged:
        """The offered worker declines: offer it to the next best worker, or wait."""
        now = self._clock()
        async with self._sessions.begin() as session:
            stored = await repo.lock_task(session, command.referral_id)
            if stored is None:
                raise TaskNotVisible(command.referral_id)
            given_back = stored.task.give_back(command.worker_id, command.reason)
            workers = await self._lock_for(session, [stored.route])
            changed = await self._offer_or_wait(
                session,
                stored,
                replace(stored, task=given_back, offered_on=None),
                now,
                command.traceparent,
                # The reason is for coordinators (decision records); it is never logged.
                {"event": "offer declined", "worker": command.worker_id, "reason": command.reason},
                workers=workers,
            )
            if command.audit is not None:
                await stage_audit(session, orm.outbox, self._topics, command.audit)
        self._on_commit()
        log.info(
            "referral %s declined by %s; now %s %s",
            command.referral_id,
            command.worker_id,
            changed.stored.task.business_status,
            changed.stored.task.owner or "",
        )
        return changed

    async def expire_overdue_offers(self, limit: int = 50) -> int:
        """Treat offers past their deadline as declined; returns how many there were.

        Safe with several replicas: each claims a disjoint batch (SKIP LOCKED).
        """
        now = self._clock()
        async with self._sessions.begin() as session:
            overdue = await repo.lock_overdue_offers(session, now, limit)
            if not overdue:
                return 0
            workers = await self._lock_for(session, [stored.route for stored in overdue])
            for stored in overdue:
                worker_id = stored.task.owner or ""
                given_back = stored.task.give_back(worker_id, NO_ANSWER)
                await self._offer_or_wait(
                    session,
                    stored,
                    replace(stored, task=given_back, offered_on=None),
                    now,
                    None,
                    {"event": "offer expired", "worker": worker_id},
                    workers=workers,
                )
        self._on_commit()
        OFFERS_TIMED_OUT.inc(len(overdue))
        log.info("%d offers expired unanswered and moved on", len(overdue))
        return len(overdue)

    async def assign_by_hand(self, command: AssignByHand) -> TaskChanged:
        """A coordinator offers a requested referral to the worker they choose.

        They may choose a worker outside the person's area, or one offered it before; they
        cannot overfill anyone, nor send someone uncleared to a risky visit.
        """
        now = self._clock()
        async with self._sessions.begin() as session:
            stored = await repo.lock_task(session, command.referral_id)
            if stored is None or not command.scope.can_see(None, stored.borough):
                raise TaskNotVisible(command.referral_id)
            if stored.task.offered_to == command.worker_id:
                raise TransitionRefused(f"the referral is already offered to {command.worker_id}")
            withdrawn = stored.task.withdraw_offer()
            # Only their choice can be offered it, whatever their area: only their lock.
            await repo.lock_workers(session, [command.worker_id])
            worker = next(
                (w for w in await repo.active_workers(session) if w.worker_id == command.worker_id),
                None,
            )
            if worker is None:
                raise UnknownWorker(f"no active link worker {command.worker_id}")
            route = stored.route
            loads = await repo.loads_by_day(session, now.date(), LOOKAHEAD_DAYS)
            day, reason = earliest_day(worker, route, loads, WAIVABLE)
            if day is None:
                raise TransitionRefused(f"{worker.worker_id} cannot take this referral: {reason}")
            load = loads[day].get(worker.worker_id, Load())
            decision = Decision(
                worker.worker_id, {}, {worker.worker_id: score(worker, route, load, None)}
            )
            task = withdrawn.offer(worker.worker_id, self._offer_timeout.deadline(now, worker))
            changed = await record_change(
                session,
                self._topics,
                stored,
                replace(stored, task=task, offered_on=day),
                now,
                command.traceparent,
                decision=self._record(
                    session,
                    decision,
                    task,
                    day,
                    {"event": "assigned by hand", "coordinator": command.coordinator},
                ),
            )
            if command.audit is not None:
                await stage_audit(session, orm.outbox, self._topics, command.audit)
        self._on_commit()
        log.info("referral %s offered by hand to %s", command.referral_id, worker.worker_id)
        return changed

    async def rebalance_waiting(self, command: RebalanceWaiting) -> dict[str, str]:
        """Offer the backlog waiting in the coordinator's boroughs by minimum-cost flow: the
        most referrals offered today, then the best matches (`domain/rebalance.py`).

        Returns referral id -> worker id for the offers made; the rest keep waiting.
        """
        now, today = self._clock(), self._clock().date()
        async with self._sessions.begin() as session:
            waiting = await repo.lock_waiting(session, command.scope.boroughs, command.limit)
            if not waiting:
                return {}
            workers = await self._lock_for(session, [stored.route for stored in waiting])
            loads = (await repo.loads_by_day(session, today, 1))[today]
            routes = [
                replace(stored.route, excluded_workers=frozenset(stored.task.offers))
                for stored in waiting
            ]
            continuity = {
                route.referral_id: holder
                for route in routes
                if (holder := await repo.continuity_worker(session, route))
            }
            batch = assign_optimally(routes, workers, loads, today, continuity)
            by_id = {w.worker_id: w for w in workers}
            for stored, route in zip(waiting, routes, strict=True):
                worker_id = batch.assignments.get(route.referral_id)
                if worker_id is None:
                    continue
                worker = by_id[worker_id]
                task = stored.task.offer(worker_id, self._offer_timeout.deadline(now, worker))
                decision = Decision(
                    worker_id,
                    {},
                    {worker_id: match_score(worker, route, continuity.get(route.referral_id))},
                )
                await record_change(
                    session,
                    self._topics,
                    stored,
                    replace(stored, task=task, offered_on=today),
                    now,
                    None,
                    decision=self._record(
                        session,
                        decision,
                        task,
                        today,
                        {
                            "event": "rebalanced",
                            "coordinator": command.coordinator,
                            "batch": {"waiting": len(waiting), "offered": batch.assigned},
                        },
                    ),
                )
            if command.audit is not None and batch.assignments:
                audit = command.audit.about(batch.assignments)
                await stage_audit(session, orm.outbox, self._topics, audit)
        self._on_commit()
        log.info("rebalanced %d waiting referrals: %d offered", len(waiting), batch.assigned)
        return dict(batch.assignments)

    async def _offer_or_wait(
        self,
        session: AsyncSession,
        before: repo.StoredTask | None,
        stored: repo.StoredTask,
        now: datetime,
        traceparent: str | None,
        trigger: dict[str, Any],
        view: _BatchView | None = None,
        workers: Sequence[LinkWorker] | None = None,
    ) -> TaskChanged:
        """Offer `stored` to the best worker not offered it yet, or make it wait (and alert).

        `workers` (or the view's) must be the list `_lock_for` returned for this referral:
        only workers read with their locks held may be offered it."""
        route = replace(stored.route, excluded_workers=frozenset(stored.task.offers))
        workers = view.workers if view else workers
        if workers is None:
            raise AssertionError("an offer needs the workers read under their locks")
        continuity = (
            view.lookups.continuity_worker(route)
            if view and view.lookups
            else await repo.continuity_worker(session, route)
        )
        exhausted = stored.task.needs_coordinator(self._max_failed_offers)
        # When the offers are used up, today's decision is still worth recording: it shows the
        # coordinator who could take the referral now.
        decision, day = await self._choose(
            session,
            route,
            workers,
            now.date(),
            continuity,
            1 if exhausted else LOOKAHEAD_DAYS,
            view,
        )
        alert: dict[str, Any] | None = None
        why: Why | None = None
        if exhausted or decision.worker_id is None:
            task = stored.task.wait_for_coordinator()
            why = "offers-exhausted" if exhausted else "no-eligible-worker"
            decision = replace(decision, worker_id=None)  # eligible now, but not offered
            alert = awaiting_allocation_alert(
                referral_id=task.referral_id,
                borough=route.borough,
                failed_offers=task.failed_offers,
                why=why,
                raised_at=now,
            )
            after = replace(stored, task=task, offered_on=None)
        else:
            worker = next(w for w in workers if w.worker_id == decision.worker_id)
            task = stored.task.offer(worker.worker_id, self._offer_timeout.deadline(now, worker))
            after = replace(stored, task=task, offered_on=day)
        return await record_change(
            session,
            self._topics,
            before,
            after,
            now,
            traceparent,
            decision=self._record(
                session, decision, task, day if task.owner else None, trigger, why
            ),
            alert=alert,
            deferred=view.deferred if view else None,
        )

    async def _choose(
        self,
        session: AsyncSession,
        route: ReferralToRoute,
        workers: Sequence[LinkWorker],
        today: date,
        continuity: str | None,
        days: int,
        view: _BatchView | None = None,
    ) -> tuple[Decision, date]:
        loads = view.loads if view else await repo.loads_by_day(session, today, days)
        first = Decision(None)
        for ahead in range(days):
            day = today + timedelta(days=ahead)
            decision = choose_worker(route, workers, loads[day], day, continuity)
            if decision.worker_id:
                return decision, day
            first = decision if ahead == 0 else first
        # Nobody on any day: the record explains today, when the referral arrived.
        return first, today

    async def _lock_for(
        self, session: AsyncSession, routes: Sequence[ReferralToRoute]
    ) -> list[LinkWorker]:
        """The active workers, with the assignment lock held of each who could take one of
        `routes` (the only ones the caller may then offer them to). Taken before any load is
        read, after any Task row lock."""
        workers = await self._roster.active(session)
        await repo.lock_workers(session, could_take(workers, routes))
        return workers

    def _record(
        self,
        session: AsyncSession,
        decision: Decision,
        task: ReferralTask,
        day: date | None,
        trigger: dict[str, Any],
        why: Why | None = None,
    ) -> dict[str, Any]:
        """The decision record an operator or coordinator reads: who, why not the others;
        counted by outcome once its transaction commits."""
        outcome = "offered" if task.owner else (why or task.business_status.value)
        count_on_commit(
            session, ASSIGNMENT_DECISIONS.labels(outcome=outcome, trigger=trigger["event"])
        )
        return {
            **decision.explain(),
            "trigger": trigger,
            "outcome": task.business_status.value,
            "why": why,
            "owner": task.owner,
            "offerDay": day.isoformat() if day else None,
            "failedOffers": task.failed_offers,
            "maxFailedOffers": self._max_failed_offers,
            "version": task.version,
        }


def _routes_of(
    requests: Sequence[tuple[dict[str, Any], str, str | None]],
    parsed: Sequence[ReferralFacts | None],
) -> list[ReferralToRoute]:
    """The routing facts of every request that can be read (one that cannot is refused
    later, in its own savepoint, and needs no worker)."""
    routes = []
    for (request, _, _), facts in zip(requests, parsed, strict=True):
        if facts is None:
            try:
                facts = read_service_request(request)
            except ValueError:
                continue
        routes.append(facts.route)
    return routes


class _NeedsSavepoints(Exception):
    """A referral was refused part-way through a batch routed without savepoints."""


class _BatchView:
    """The directory and the loads as one batch of routing sees them, kept current in memory
    while the batch holds the locks of every worker it may offer to (nobody else can add to
    their loads meanwhile; other workers' loads may move, but the batch never offers to them)."""

    def __init__(self, workers: list[LinkWorker], loads: dict[date, dict[str, Load]]) -> None:
        self.workers = workers
        self.loads = loads
        self.lookups: BatchLookups | None = None  # only when nothing can roll back alone
        self.deferred: DeferredWrites | None = None  # likewise: new Tasks written at the end

    def took(self, stored: repo.StoredTask) -> None:
        """Count a new offer: one more open referral for its worker, one more on its day."""
        owner = stored.task.owner
        if owner is None:
            return
        if self.lookups:
            self.lookups.offered(stored.episode_id, owner)
        for day, by_worker in self.loads.items():
            load = by_worker.get(owner, Load())
            extra_today = 1 if day == stored.offered_on else 0
            by_worker[owner] = Load(active=load.active + 1, new_today=load.new_today + extra_today)
