"""Service level timers: started, met and stopped by Task changes; breaches found by a sweep.

Both sides lock the referral's timer row, so a sweep and a Task change never both decide
about the same referral: a change waits for a sweep holding the row (and then resolves the
breach the sweep raised), and a sweep skips a row a change holds (the next sweep sees it).
Each alert is recorded in the unit of work whose transaction records it raised: published once.

Only the sweep applies the policy (the configured days and weeks): a change that starts or
moves a clock sets its next deadline to now, and the sweep works out the real one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from hub_common.messaging.topics import Topics
from hub_common.observability.metrics import SLA_BREACHES
from hub_router.adapters import task_repository as repo
from hub_router.adapters.alerts import Resolution, sla_breach_alert, sla_resolved_alert
from hub_router.adapters.unit_of_work import RouterUnitOfWork, Sessions, Units, units_for
from hub_router.domain.events import ServiceLevelBreached, ServiceLevelResolved
from hub_router.domain.sla import (
    SlaPolicy,
    SlaTimer,
    breaches,
    clock_events,
    next_due,
    resolved_by,
)

log = logging.getLogger(__name__)


async def track_change(
    uow: RouterUnitOfWork,
    before: repo.StoredTask,
    after: repo.StoredTask,
    now: datetime,
    traceparent: str | None,
) -> None:
    """Start, meet or stop the referral's clocks as this Task change says, in its transaction."""
    accepted, first_contact, closed = clock_events(
        (before.task.status, before.task.business_status),
        (after.task.status, after.task.business_status),
    )
    referral_id = after.task.referral_id
    if accepted:
        await uow.sla.start(SlaTimer(referral_id, after.borough, accepted_at=now), now)
        return
    if not (first_contact or closed):
        return
    timer = await uow.sla.lock(referral_id)
    if timer is None:  # never accepted (cancelled while offered), or accepted before timers
        return
    if first_contact and timer.first_contact_at is None:
        timer = replace(timer, first_contact_at=now)
    if closed and timer.closed_at is None:
        timer = replace(timer, closed_at=now)
    await uow.sla.save(timer, None if timer.closed_at else now)
    resolution: Resolution = "closed" if closed else "first-contact-made"
    for rule in resolved_by(timer.raised, first_contact=first_contact, closed=closed):
        alert = sla_resolved_alert(
            referral_id=referral_id,
            borough=timer.borough,
            rule=rule.value,
            resolution=resolution,
            resolved_at=now,
        )
        uow.record(ServiceLevelResolved(referral_id, alert, traceparent))


class SlaSweep:
    """Raises each breach of the service levels once, for the timers whose deadline passed."""

    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        policy: SlaPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        units: Units | None = None,
    ) -> None:
        self._units = units_for(sessions, topics, units)
        self._policy = policy
        self._clock = clock

    async def sweep(self, limit: int = 100) -> int:
        """One batch: the timers read (a full batch means there may be more)."""
        now = self._clock()
        raised = 0
        async with self._units() as uow:
            timers = await uow.sla.lock_due(now, limit)
            for timer in timers:
                found = breaches(timer, self._policy, now)
                updated = replace(timer, raised=timer.raised | {(b.rule, b.level) for b in found})
                await uow.sla.save(updated, next_due(updated, self._policy))
                for breach in found:
                    alert = sla_breach_alert(
                        referral_id=breach.referral_id,
                        borough=breach.borough,
                        rule=breach.rule.value,
                        level=breach.level.value,
                        due_at=breach.due_at,
                        raised_at=now,
                    )
                    uow.record(ServiceLevelBreached(breach.referral_id, alert))
                    uow.count(SLA_BREACHES.labels(rule=breach.rule, level=breach.level))
                raised += len(found)
        if raised:
            log.info("service level sweep raised %d alerts", raised)
        return len(timers)
