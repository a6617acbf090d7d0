"""Service level timers: started, met and stopped by Task changes; breaches found by a sweep.

Both sides lock the referral's timer row, so a sweep and a Task change never both decide
about the same referral: a change waits for a sweep holding the row (and then resolves the
breach the sweep raised), and a sweep skips a row a change holds (the next sweep sees it).
Each alert is staged in the outbox in the transaction that records it raised: published once.

Only the sweep applies the policy (the configured days and weeks): a change that starts or
moves a clock sets its next deadline to now, and the sweep works out the real one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.messaging.topics import Topics
from hub_common.observability.metrics import SLA_BREACHES, count_on_commit
from hub_router.adapters import sla_clock
from hub_router.adapters import task_repository as repo
from hub_router.adapters.alerts import Resolution
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
    session: AsyncSession,
    topics: Topics,
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
        await sla_clock.start(session, SlaTimer(referral_id, after.borough, accepted_at=now), now)
        return
    if not (first_contact or closed):
        return
    timer = await sla_clock.lock_timer(session, referral_id)
    if timer is None:  # never accepted (cancelled while offered), or accepted before timers
        return
    if first_contact and timer.first_contact_at is None:
        timer = replace(timer, first_contact_at=now)
    if closed and timer.closed_at is None:
        timer = replace(timer, closed_at=now)
    await sla_clock.save(session, timer, None if timer.closed_at else now)
    rules = resolved_by(timer.raised, first_contact=first_contact, closed=closed)
    if rules:
        resolution: Resolution = "closed" if closed else "first-contact-made"
        await sla_clock.stage_resolutions(
            session, topics, timer, rules, resolution, now, traceparent
        )


class SlaSweep:
    """Raises each breach of the service levels once, for the timers whose deadline passed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: Topics,
        policy: SlaPolicy,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._policy = policy
        self._on_commit = on_commit
        self._clock = clock

    async def sweep(self, limit: int = 100) -> int:
        """One batch: the timers read (a full batch means there may be more)."""
        now = self._clock()
        raised = 0
        async with self._sessions.begin() as session:
            timers = await sla_clock.lock_due(session, now, limit)
            for timer in timers:
                found = breaches(timer, self._policy, now)
                updated = replace(timer, raised=timer.raised | {(b.rule, b.level) for b in found})
                await sla_clock.save(session, updated, next_due(updated, self._policy))
                await sla_clock.stage_breaches(session, self._topics, found, now)
                raised += len(found)
                for breach in found:
                    count_on_commit(
                        session, SLA_BREACHES.labels(rule=breach.rule, level=breach.level)
                    )
        if raised:
            self._on_commit()
            log.info("service level sweep raised %d alerts", raised)
        return len(timers)
