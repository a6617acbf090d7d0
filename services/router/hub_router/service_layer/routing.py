"""Routing use cases: keep the directory, and every change that chooses a link worker.

Offering a new referral, re-offering a declined or unanswered one, assigning one by hand and
rebalancing all read worker loads and then add to one: each holds the assignment lock of every
worker it could offer to (`task_repository.lock_workers`, the workers covering the referrals'
areas, or the coordinator's choice) from before it reads the loads until it commits, and
offers only to workers it read with those locks held (`TaskRepository.lock_for`). So no two of
them, on any replica, can both give a worker their last free place, while changes about
different workers (other boroughs) decide in parallel. Why that is enough is in
`lock_workers`'s docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from hub_common.messaging.batch import run_batch
from hub_common.messaging.topics import Topics
from hub_common.observability.metrics import OFFERS_TIMED_OUT
from hub_router.adapters import task_repository as repo
from hub_router.adapters.practitioner_role import from_practitioner_role
from hub_router.adapters.service_request import ReferralFacts, read_service_request
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.adapters.worker_roster import WorkerRoster
from hub_router.domain.model import ReferralToRoute
from hub_router.domain.offers import OfferTimeout, ReferralTask, TaskNotVisible
from hub_router.service_layer.commands import AssignByHand, DeclineOffer, RebalanceWaiting
from hub_router.service_layer.coordination import Coordination
from hub_router.service_layer.offering import Offering
from hub_router.service_layer.recording import TaskChanged
from hub_router.service_layer.restriction import refuse_if_restricted
from hub_router.service_layer.unit_of_work import (
    LiveAssignments,
    RoutingUnitOfWork,
)

log = logging.getLogger(__name__)

NO_ANSWER = "no answer before the offer's deadline"


class RoutingService:
    """Applies directory changes, and offers referrals to link workers, one transaction each."""

    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        max_failed_offers: int = 3,
        offer_timeout: OfferTimeout | None = None,
        units: Callable[[date, list[ReferralToRoute], list[str]], RoutingUnitOfWork] | None = None,
        changes: Units | None = None,
    ) -> None:
        self._changes = units_for(sessions, topics, changes)
        self._topics = topics
        self._clock = clock
        self._roster = WorkerRoster()
        # A routing batch's unit of work, given its day and what it looks up (tests: in memory).
        self._units = units or (
            lambda today, routes, ids: RoutingUnitOfWork(
                sessions,  # type: ignore[arg-type]  # given whenever `units` is not
                self._roster,
                today,
                routes,
                ids,
            )
        )
        self._offering = Offering(topics, max_failed_offers, offer_timeout or OfferTimeout())
        self._coordination = Coordination(
            self._changes, topics, self._offering, self._roster, clock
        )

    async def apply_directory_entry(self, worker_id: str, role: dict[str, Any] | None) -> None:
        """Upsert a worker from the compacted directory; a tombstone (None) removes them."""
        async with self._changes() as uow:
            if role is None:
                await uow.workers.remove(worker_id)
            else:
                await uow.workers.put(from_practitioner_role(role), role)

    async def route(
        self, service_request: dict[str, Any], event_id: str, traceparent: str | None
    ) -> str | None:
        """Offer a new referral to a link worker; returns the worker id, or None if it waits.

        Idempotent: a redelivered event, or a second event for a referral the router already
        holds, changes nothing (the first publishes version 1, nothing else ever does).
        """
        [result] = await self._route_all([(service_request, event_id, traceparent)])
        if isinstance(result, Exception):
            raise result
        return result.stored.task.owner if result else None

    async def route_batch(self, requests: Sequence[tuple[dict[str, Any], str, str | None]]) -> int:
        """Offer many new referrals in ONE transaction under one hold of the assignment lock
        (`hub_common.messaging.batch`). The directory and the loads are read once, and kept up to date
        in memory as offers are made, instead of being aggregated again for every referral.
        A referral that cannot be routed rolls back alone (it is logged by id and skipped, as
        `route` would refuse it). Returns how many were offered or set waiting."""
        results = await self._route_all(requests)
        done = sum(1 for result in results if isinstance(result, TaskChanged))
        log.info("routed a batch of %d referrals (%d new)", len(requests), done)
        return done

    async def _route_all(
        self, requests: Sequence[tuple[dict[str, Any], str, str | None]]
    ) -> list[TaskChanged | Exception | None]:
        now = self._clock()
        # Each ServiceRequest read once; what the batch must look up, looked up for all.
        read = [
            _read(request, event_id, traceparent) for request, event_id, traceparent in requests
        ]
        readable = [(r.facts.route, r.event_id) for r in read if not isinstance(r.facts, Exception)]

        def new_unit() -> RoutingUnitOfWork:
            routes, ids = [route for route, _ in readable], [event for _, event in readable]
            return self._units(now.date(), routes, ids)

        async def route_one(
            uow: RoutingUnitOfWork, request: _Request
        ) -> TaskChanged | Exception | None:
            if isinstance(request.facts, Exception):  # nothing written: skipped on either path
                return await _skip(uow, request, request.facts)
            return await self._route_in(uow, request, request.facts, now)

        results = await run_batch(
            new_unit, read, route_one, _skip, traceparent=lambda request: request.traceparent
        )
        return results

    async def _route_in(
        self, uow: RoutingUnitOfWork, request: _Request, facts: ReferralFacts, now: datetime
    ) -> TaskChanged | None:
        """Create and offer one new referral; None when it is a redelivery or already held.
        The batch holds the locks of the workers covering its area: two replicas given the
        same referral during a consumer group rebalance wait for each other, so cannot both
        create it (and were the directory to change between them, the second's insert of the
        same Task fails and its batch is taken again, finding the referral held)."""
        referral = facts.route
        if not uow.lookups.is_new(request.event_id, referral.referral_id):
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
        trigger = {"event": "referral received"}
        return await self._offering.offer_or_wait(uow, None, new, now, request.traceparent, trigger)

    async def decline(self, command: DeclineOffer) -> TaskChanged:
        """The offered worker declines: offer it to the next best worker, or wait."""
        now = self._clock()
        async with self._changes() as uow:
            stored = await uow.tasks.lock(command.referral_id)
            if stored is None:
                raise TaskNotVisible(command.referral_id)
            await refuse_if_restricted(uow, stored)
            given_back = stored.task.give_back(command.worker_id, command.reason)
            changed = await self._offering.offer_or_wait(
                await LiveAssignments.read(uow, self._roster, now.date(), [stored.route]),
                stored,
                replace(stored, task=given_back, offered_on=None),
                now,
                command.traceparent,
                # The reason is for coordinators (decision records); it is never logged.
                {"event": "offer declined", "worker": command.worker_id, "reason": command.reason},
            )
            if command.audit is not None:
                uow.record(command.audit)
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
        async with self._changes() as uow:
            overdue = await uow.tasks.lock_overdue_offers(now, limit)
            if not overdue:
                return 0
            routes = [stored.route for stored in overdue]
            live = await LiveAssignments.read(uow, self._roster, now.date(), routes)
            for stored in overdue:
                worker_id = stored.task.owner or ""
                given_back = stored.task.give_back(worker_id, NO_ANSWER)
                await self._offering.offer_or_wait(
                    live,
                    stored,
                    replace(stored, task=given_back, offered_on=None),
                    now,
                    None,
                    {"event": "offer expired", "worker": worker_id},
                )
        OFFERS_TIMED_OUT.inc(len(overdue))
        log.info("%d offers expired unanswered and moved on", len(overdue))
        return len(overdue)

    async def assign_by_hand(self, command: AssignByHand) -> TaskChanged:
        """A coordinator offers a requested referral to the worker they choose."""
        return await self._coordination.assign_by_hand(command)

    async def rebalance_waiting(self, command: RebalanceWaiting) -> dict[str, str]:
        """Offer the backlog waiting in the coordinator's boroughs (`coordination.py`)."""
        return await self._coordination.rebalance_waiting(command)


@dataclass(frozen=True)
class _Request:
    """A new referral's event, read (or what reading it raised)."""

    facts: ReferralFacts | ValueError
    event_id: str
    traceparent: str | None


def _read(request: dict[str, Any], event_id: str, traceparent: str | None) -> _Request:
    try:
        return _Request(read_service_request(request), event_id, traceparent)
    except ValueError as error:
        return _Request(error, event_id, traceparent)


async def _skip(_: RoutingUnitOfWork, request: _Request, error: Exception) -> Exception:
    """A referral that cannot be routed is logged by id (never its content) and skipped."""
    log.error("skipped event %s on referrals.requested: %s", request.event_id, type(error).__name__)
    return error
