"""One way to offer a referral, or make it wait: the best worker not offered it yet, on the
soonest day they can take it, with the decision record an operator or coordinator reads, and
the alert when it must wait for a coordinator. Every change that chooses a worker goes through
here, holding the assignment lock (`unit_of_work.Assignments`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from hub_common.messaging.topics import Topics
from hub_common.observability.metrics import ASSIGNMENT_DECISIONS
from hub_router.adapters import task_repository as repo
from hub_router.adapters.alerts import Why, awaiting_allocation_alert
from hub_router.domain.offers import OfferTimeout, ReferralTask
from hub_router.domain.policy import Decision, choose_soonest
from hub_router.service_layer.recording import TaskChanged, record_change
from hub_router.service_layer.unit_of_work import LOOKAHEAD_DAYS, Assignments, Counts


class Offering:
    """Offers referrals to link workers under the service's limits (failed offers, deadline)."""

    def __init__(self, topics: Topics, max_failed_offers: int, offer_timeout: OfferTimeout) -> None:
        self._topics = topics
        self._max_failed_offers = max_failed_offers
        self.offer_timeout = offer_timeout

    async def offer_or_wait(
        self,
        seen: Assignments,
        before: repo.StoredTask | None,
        stored: repo.StoredTask,
        now: datetime,
        traceparent: str | None,
        trigger: dict[str, Any],
    ) -> TaskChanged:
        """Offer `stored` to the best worker not offered it yet, or make it wait (and alert)."""
        route = replace(stored.route, excluded_workers=frozenset(stored.task.offers))
        exhausted = stored.task.needs_coordinator(self._max_failed_offers)
        # When the offers are used up, today's decision is still worth recording: it shows the
        # coordinator who could take the referral now.
        decision, day = choose_soonest(
            route,
            seen.workers,
            seen.loads,
            now.date(),
            await seen.continuity_worker(route),
            1 if exhausted else LOOKAHEAD_DAYS,
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
            worker = next(w for w in seen.workers if w.worker_id == decision.worker_id)
            task = stored.task.offer(worker.worker_id, self.offer_timeout.deadline(now, worker))
            after = replace(stored, task=task, offered_on=day)
        changed = await record_change(
            seen.changes,
            self._topics,
            before,
            after,
            now,
            traceparent,
            decision=self.record(seen, decision, task, day if task.owner else None, trigger, why),
            alert=alert,
            deferred=seen.deferred,
        )
        seen.took(after)
        return changed

    def record(
        self,
        counts: Counts,
        decision: Decision,
        task: ReferralTask,
        day: date | None,
        trigger: dict[str, Any],
        why: Why | None = None,
    ) -> dict[str, Any]:
        """The decision record an operator or coordinator reads: who, why not the others;
        counted by outcome once its transaction commits."""
        outcome = "offered" if task.owner else (why or task.business_status.value)
        counts.count(ASSIGNMENT_DECISIONS.labels(outcome=outcome, trigger=trigger["event"]))
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
