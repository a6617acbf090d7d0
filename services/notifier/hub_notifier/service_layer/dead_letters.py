"""Operators' view of deliveries that gave up, and the way to send them again.

A retried dead letter goes out with its original event number and body: the referrer may get it
after later events, and the number tells them where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub_common.agency_formats import inbound_sources
from hub_common.messaging.topics import Topics
from hub_notifier.adapters.delivery_store import SENT_BY_WORKER
from hub_notifier.domain.events import StatusNotified
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions


class DeadLetters:
    """Lists and revives dead deliveries (ids, counts and error kinds only: no content)."""

    def __init__(
        self,
        sessions: Sessions,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
        topics: Topics | None = None,
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._publishes = topics is not None  # without topics, no Kafka delivery is retried
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions, topics))
        self._clock = clock
        self._on_commit = on_commit

    async def list(self, subscription_id: str | None = None, limit: int = 100) -> list[Any]:
        unit = self._new_unit()
        async with unit.transaction():
            return await unit.deliveries.dead(subscription_id, limit)

    async def retry(self, delivery_id: str) -> bool:
        """Send a dead delivery again; False if there is no such dead letter.

        A webhook or e-mail goes back in the delivery worker's queue with a fresh retry
        window. A Kafka (`message`) delivery that died had no status topic to go to: it is
        published now on its subscriber's own status topic for the referral's source, through
        the outbox (NoStatusTopic when the source is still unknown), so every dead letter the
        list shows can be retried."""
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.deliveries.dead_one(delivery_id)
            if row is None:
                return False
            if row.channel in SENT_BY_WORKER:
                await unit.deliveries.requeue(delivery_id, self._clock())
            else:
                source = await unit.referrals.source_of(row.referral_id)
                subscriber = await unit.subscriptions.organisation_of(row.subscription_id)
                if source not in inbound_sources() or subscriber is None or not self._publishes:
                    raise NoStatusTopic(source)
                unit.stage(
                    StatusNotified(
                        source=source,
                        requester_org=subscriber,
                        referral_id=row.referral_id,
                        bundle=bytes(row.body),
                        traceparent=None,
                    )
                )
                await unit.deliveries.delivered(delivery_id, self._clock())
        self._on_commit()
        return True

    async def status(self, delivery_id: str) -> str:
        unit = self._new_unit()
        async with unit.transaction():
            return await unit.deliveries.status_of(delivery_id)


class NoStatusTopic(ValueError):
    """A Kafka delivery whose referral's source has no `referrals.status.<source>.<agency>`
    topics."""
