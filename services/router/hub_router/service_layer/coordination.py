"""A coordinator's routing: offering a referral by hand to the worker they choose, and
offering the backlog waiting in their boroughs all at once (`domain/rebalance.py`). Each holds
the assignment lock from before it reads the loads until it commits, like every change that
chooses a worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from hub_common.messaging.topics import Topics
from hub_router.adapters.unit_of_work import Units
from hub_router.adapters.worker_roster import WorkerRoster
from hub_router.domain.model import Load
from hub_router.domain.offers import TaskNotVisible
from hub_router.domain.policy import WAIVABLE, Decision, earliest_day, match_score, score
from hub_router.domain.rebalance import assign_optimally
from hub_router.domain.task_status import TransitionRefused
from hub_router.service_layer.commands import AssignByHand, RebalanceWaiting
from hub_router.service_layer.offering import Offering
from hub_router.service_layer.recording import TaskChanged, record_change
from hub_router.service_layer.restriction import refuse_if_restricted
from hub_router.service_layer.unit_of_work import LOOKAHEAD_DAYS

log = logging.getLogger(__name__)


class UnknownWorker(LookupError):
    """No active link worker has this id."""


class Coordination:
    """The coordinator's routing use cases, one transaction each."""

    def __init__(
        self,
        units: Units,
        topics: Topics,
        offering: Offering,
        roster: WorkerRoster,
        clock: Callable[[], datetime],
    ) -> None:
        self._units = units
        self._topics = topics
        self._offering = offering
        self._roster = roster
        self._clock = clock

    async def assign_by_hand(self, command: AssignByHand) -> TaskChanged:
        """A coordinator offers a requested referral to the worker they choose.

        They may choose a worker outside the person's area, or one offered it before; they
        cannot overfill anyone, nor send someone uncleared to a risky visit.
        """
        now = self._clock()
        async with self._units() as uow:
            stored = await uow.tasks.lock(command.referral_id)
            if stored is None or not command.scope.can_see(None, stored.borough):
                raise TaskNotVisible(command.referral_id)
            await refuse_if_restricted(uow, stored)
            if stored.task.offered_to == command.worker_id:
                raise TransitionRefused(f"the referral is already offered to {command.worker_id}")
            withdrawn = stored.task.withdraw_offer()
            # Only their choice can be offered it, whatever their area: only their lock.
            await uow.tasks.lock_workers([command.worker_id])
            worker = next(
                (w for w in await uow.tasks.active_workers() if w.worker_id == command.worker_id),
                None,
            )
            if worker is None:
                raise UnknownWorker(f"no active link worker {command.worker_id}")
            route = stored.route
            loads = await uow.tasks.loads_by_day(now.date(), LOOKAHEAD_DAYS)
            day, reason = earliest_day(worker, route, loads, WAIVABLE)
            if day is None:
                raise TransitionRefused(f"{worker.worker_id} cannot take this referral: {reason}")
            load = loads[day].get(worker.worker_id, Load())
            decision = Decision(
                worker.worker_id, {}, {worker.worker_id: score(worker, route, load, None)}
            )
            task = withdrawn.offer(
                worker.worker_id, self._offering.offer_timeout.deadline(now, worker)
            )
            changed = await record_change(
                uow,
                self._topics,
                stored,
                replace(stored, task=task, offered_on=day),
                now,
                command.traceparent,
                decision=self._offering.record(
                    uow,
                    decision,
                    task,
                    day,
                    {"event": "assigned by hand", "coordinator": command.coordinator},
                ),
            )
            if command.audit is not None:
                uow.record(command.audit)
        log.info("referral %s offered by hand to %s", command.referral_id, worker.worker_id)
        return changed

    async def rebalance_waiting(self, command: RebalanceWaiting) -> dict[str, str]:
        """Offer the backlog waiting in the coordinator's boroughs by minimum-cost flow: the
        most referrals offered today, then the best matches (`domain/rebalance.py`).

        Returns referral id -> worker id for the offers made; the rest keep waiting.
        """
        now, today = self._clock(), self._clock().date()
        async with self._units() as uow:
            waiting = await uow.tasks.lock_waiting(command.scope.boroughs, command.limit)
            if not waiting:
                return {}
            workers = await uow.tasks.lock_for(self._roster, [stored.route for stored in waiting])
            loads = (await uow.tasks.loads_by_day(today, 1))[today]
            routes = [
                replace(stored.route, excluded_workers=frozenset(stored.task.offers))
                for stored in waiting
            ]
            continuity = {
                route.referral_id: holder
                for route in routes
                if (holder := await uow.tasks.continuity_worker(route))
            }
            batch = assign_optimally(routes, workers, loads, today, continuity)
            by_id = {w.worker_id: w for w in workers}
            for stored, route in zip(waiting, routes, strict=True):
                worker_id = batch.assignments.get(route.referral_id)
                if worker_id is None:
                    continue
                worker = by_id[worker_id]
                task = stored.task.offer(
                    worker_id, self._offering.offer_timeout.deadline(now, worker)
                )
                decision = Decision(
                    worker_id,
                    {},
                    {worker_id: match_score(worker, route, continuity.get(route.referral_id))},
                )
                await record_change(
                    uow,
                    self._topics,
                    stored,
                    replace(stored, task=task, offered_on=today),
                    now,
                    None,
                    decision=self._offering.record(
                        uow,
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
                uow.record(command.audit.about(batch.assignments))
        log.info("rebalanced %d waiting referrals: %d offered", len(waiting), batch.assigned)
        return dict(batch.assignments)
