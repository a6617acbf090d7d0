"""Subscription use cases: register an agency's endpoint, handshake with it, report its status."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.jsonio import dumps
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, PENDING
from hub_notifier.domain.commands import CreateSubscription
from hub_notifier.domain.notification import NotificationType, StatusReport, notification_bundle
from hub_notifier.domain.subscription import Channel, SubscriptionStatus, check_filter

s = orm.subscriptions
d = orm.deliveries


@dataclass(frozen=True)
class Created:
    """A new subscription, with the signing secret the agency will never be shown again."""

    row: Any
    secret: str


class SubscriptionService:
    """Registers subscriptions and reports on them; an agency sees only its own."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        base_url: str,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._on_commit = on_commit

    def url(self, subscription_id: str) -> str:
        return f"{self._base_url}/fhir/Subscription/{subscription_id}"

    async def create(self, command: CreateSubscription) -> Created:
        """Raises RefusedSubscription when the filter reaches beyond the agency's own Tasks."""
        filter_criteria = check_filter(command.filter_criteria, command.organisation)
        subscription_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        rest_hook = command.channel is Channel.REST_HOOK
        # A rest-hook stays `requested` until its endpoint answers the handshake; the Kafka
        # channel is the hub's own topic, so there is nobody to shake hands with.
        status = SubscriptionStatus.REQUESTED if rest_hook else SubscriptionStatus.ACTIVE
        async with self._sessions.begin() as session:
            await session.execute(
                insert(s).values(
                    subscription_id=subscription_id,
                    requester_org=command.organisation,
                    status=status.value,
                    channel=command.channel.value,
                    endpoint=command.endpoint,
                    headers=list(command.headers),
                    secret=secret,
                    filter_criteria=filter_criteria,
                    reason=command.reason,
                )
            )
            if rest_hook:
                await self._handshake(session, subscription_id, status)
            row = (
                await session.execute(select(s).where(s.c.subscription_id == subscription_id))
            ).one()
        self._on_commit()
        return Created(row, secret)

    async def _handshake(
        self, session: AsyncSession, subscription_id: str, status: SubscriptionStatus
    ) -> None:
        delivery_id = str(uuid.uuid4())
        now = self._clock()
        report = StatusReport(
            subscription_url=self.url(subscription_id),
            status=status.value,
            type=NotificationType.HANDSHAKE,
            events_since_start=0,
        )
        body = notification_bundle(
            report, bundle_id=delivery_id, base_url=self._base_url, timestamp=now
        )
        await session.execute(
            insert(d).values(
                delivery_id=delivery_id,
                subscription_id=subscription_id,
                kind=NotificationType.HANDSHAKE.value,
                channel=Channel.REST_HOOK.value,
                body=dumps(body),
                status=PENDING,
            )
        )

    async def find(self, subscription_id: str, organisation: str) -> Any | None:
        """The subscription, or None when it is unknown or another organisation's."""
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(s).where(
                        s.c.subscription_id == subscription_id, s.c.requester_org == organisation
                    )
                )
            ).first()

    async def status_report(self, subscription_id: str, organisation: str) -> StatusReport | None:
        """What `$status` answers: status, event count, and every delivery in trouble."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(s).where(
                        s.c.subscription_id == subscription_id, s.c.requester_org == organisation
                    )
                )
            ).first()
            if row is None:
                return None
            troubled = (
                await session.execute(
                    select(d.c.kind, d.c.event_number, d.c.status, d.c.attempts, d.c.last_error)
                    .where(
                        d.c.subscription_id == subscription_id,
                        (d.c.status == DEAD)
                        | ((d.c.status == PENDING) & d.c.last_error.is_not(None)),
                    )
                    .order_by(d.c.seq)
                    .limit(100)
                )
            ).all()
        return StatusReport(
            subscription_url=self.url(subscription_id),
            status=row.status,
            type=NotificationType.QUERY_STATUS,
            events_since_start=row.events_since_start,
            errors=tuple(_trouble(t) for t in troubled),
        )


def _trouble(delivery: Any) -> str:
    what = (
        f"event {delivery.event_number}"
        if delivery.event_number is not None
        else str(delivery.kind)
    )
    if delivery.status == DEAD:
        return (
            f"{what}: dead-lettered after {delivery.attempts} attempts "
            f"(last: {delivery.last_error}); an operator can retry it"
        )
    return f"{what}: retrying, {delivery.attempts} attempts so far (last: {delivery.last_error})"
