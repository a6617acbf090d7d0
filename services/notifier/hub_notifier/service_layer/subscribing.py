"""Subscription use cases: register an agency's endpoint, handshake with it, report its status;
rotate its signing secret, turn it off and on, send heartbeats when it has been quiet."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.jsonio import dumps
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, PENDING
from hub_notifier.adapters.subscription_store import SubscriptionStore
from hub_notifier.domain.commands import CreateSubscription
from hub_notifier.domain.notification import NotificationType, StatusReport, notification_bundle
from hub_notifier.domain.subscription import (
    Channel,
    RefusedSubscription,
    SubscriptionStatus,
    check_filter,
)

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
        *,
        rotation_grace: timedelta = timedelta(hours=24),
    ) -> None:
        self._sessions = sessions
        self._store = SubscriptionStore(sessions)
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._on_commit = on_commit
        self._rotation_grace = rotation_grace

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
                    heartbeat_seconds=command.heartbeat_seconds,
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

    async def rotate_secret(self, subscription_id: str, organisation: str) -> Created | None:
        """A new signing secret, shown once; the old one keeps signing beside it for the
        grace period, so the receiver can switch at its own pace. None when unknown."""
        secret = secrets.token_urlsafe(32)
        grace_until = self._clock() + self._rotation_grace
        row = await self._store.rotate_secret(subscription_id, organisation, secret, grace_until)
        return Created(row, secret) if row is not None else None

    async def update(self, subscription_id: str, command: CreateSubscription, status: str) -> Any:
        """A FHIR update of the subscription: only its status (off, or back on) and its
        heartbeat period may change; anything else needs a new subscription, since receivers
        and event numbers belong to this one. Raises RefusedSubscription naming the element;
        None when unknown or another organisation's."""
        row = await self.find(subscription_id, command.organisation)
        if row is None:
            return None
        for element, asked, stored in (
            ("Subscription.channel.type", command.channel.value, row.channel),
            ("Subscription.channel.endpoint", command.endpoint, row.endpoint),
            (
                "Subscription.criteria",
                check_filter(command.filter_criteria, command.organisation),
                row.filter_criteria,
            ),
        ):
            if asked != stored:
                raise RefusedSubscription(
                    element,
                    "only status and heartbeatPeriod can change; create a new Subscription "
                    "for anything else",
                )
        if command.heartbeat_seconds != row.heartbeat_seconds:
            await self._store.set_heartbeat(
                subscription_id, command.organisation, command.heartbeat_seconds
            )
        if status == SubscriptionStatus.OFF.value:
            row = await self._store.turn_off(subscription_id, command.organisation)
        elif status in (SubscriptionStatus.REQUESTED.value, SubscriptionStatus.ACTIVE.value):
            row = await self._store.turn_on(subscription_id, command.organisation, self._clock())
        else:
            raise RefusedSubscription(
                "Subscription.status", "off to turn it off, active or requested to turn it on"
            )
        self._on_commit()  # parked deliveries may be due again
        return await self.find(subscription_id, command.organisation)

    async def send_heartbeats(self, limit: int = 500) -> int:
        """Queue a heartbeat for every active rest-hook quiet for its whole period."""
        now = self._clock()

        def heartbeat(row: Any, delivery_id: str) -> dict[str, Any]:
            report = StatusReport(
                subscription_url=self.url(row.subscription_id),
                status=row.status,
                type=NotificationType.HEARTBEAT,
                events_since_start=row.events_since_start,
            )
            return notification_bundle(
                report, bundle_id=delivery_id, base_url=self._base_url, timestamp=now
            )

        queued = await self._store.queue_heartbeats(now, limit, heartbeat)
        if queued:
            self._on_commit()
        return queued

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
