"""Operators' view of deliveries that gave up, and the way to send them again.

A retried dead letter goes out with its original event number and body: the referrer may get it
after later events, and the number tells them where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.agency_formats import inbound_sources
from hub_common.fhir.systems import FHIR_JSON
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, DELIVERED, PENDING, SENT_BY_WORKER
from hub_notifier.adapters.requester import source_of

d = orm.deliveries


class DeadLetters:
    """Lists and revives dead deliveries (ids, counts and error kinds only: no content)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
        topics: Topics | None = None,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._clock = clock
        self._on_commit = on_commit

    async def list(self, subscription_id: str | None = None, limit: int = 100) -> list[Any]:
        query = (
            select(
                d.c.delivery_id,
                d.c.subscription_id,
                d.c.event_number,
                d.c.kind,
                d.c.channel,
                d.c.referral_id,
                d.c.attempts,
                d.c.last_error,
                d.c.first_attempt_at,
                d.c.last_attempt_at,
                d.c.created_at,
            )
            .where(d.c.status == DEAD)
            .order_by(d.c.seq)
            .limit(limit)
        )
        if subscription_id:
            query = query.where(d.c.subscription_id == subscription_id)
        async with self._sessions() as session:
            return list((await session.execute(query)).all())

    async def retry(self, delivery_id: str) -> bool:
        """Send a dead delivery again; False if there is no such dead letter.

        A webhook or e-mail goes back in the delivery worker's queue with a fresh retry
        window. A Kafka (`message`) delivery that died had no status topic to go to: it is
        published now on its subscriber's own status topic for the referral's source, through
        the outbox (NoStatusTopic when the source is still unknown), so every dead letter the
        list shows can be retried."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(d.c.channel, d.c.referral_id, d.c.body, d.c.subscription_id).where(
                        d.c.delivery_id == delivery_id, d.c.status == DEAD
                    )
                )
            ).first()
            if row is None:
                return False
            if row.channel in SENT_BY_WORKER:
                await session.execute(
                    update(d)
                    .where(d.c.delivery_id == delivery_id)
                    .values(status=PENDING, due_at=self._clock(), attempts=0, first_attempt_at=None)
                )
            else:
                source = await source_of_referral(session, row.referral_id)
                subscriber = await session.scalar(
                    select(orm.subscriptions.c.requester_org).where(
                        orm.subscriptions.c.subscription_id == row.subscription_id
                    )
                )
                if source not in inbound_sources() or subscriber is None or self._topics is None:
                    raise NoStatusTopic(source)
                await add_to_outbox(
                    session,
                    orm.outbox,
                    [
                        OutgoingEvent(
                            topic=self._topics.agency_status(source, subscriber),
                            key=row.referral_id,
                            value=bytes(row.body),
                            envelope=Envelope.new("ReferralStatusNotified", FHIR_JSON),
                        )
                    ],
                )
                await session.execute(
                    update(d)
                    .where(d.c.delivery_id == delivery_id)
                    .values(status=DELIVERED, delivered_at=self._clock())
                )
        self._on_commit()
        return True

    async def status(self, delivery_id: str) -> str:
        async with self._sessions() as session:
            return str(
                await session.scalar(select(d.c.status).where(d.c.delivery_id == delivery_id))
            )


class NoStatusTopic(ValueError):
    """A Kafka delivery whose referral's source has no `referrals.status.<source>.<agency>`
    topics."""


async def source_of_referral(session: AsyncSession, referral_id: str | None) -> str:
    """The inbound source of a referral or rejection the notifier recorded ("unknown")."""
    if referral_id is None:
        return "unknown"
    rejected = await session.scalar(
        select(orm.rejections.c.source).where(orm.rejections.c.rejection_id == referral_id)
    )
    if rejected:
        return str(rejected)
    resource = await session.scalar(
        select(orm.service_requests.c.resource).where(
            orm.service_requests.c.referral_id == referral_id
        )
    )
    return source_of(resource) if resource else "unknown"
