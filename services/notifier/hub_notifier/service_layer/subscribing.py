"""Subscription use cases: register an agency's endpoint, handshake with it, report its status;
rotate its signing secret, turn it off and on, send heartbeats when it has been quiet."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub_common.jsonio import dumps
from hub_notifier.adapters.delivery_store import DEAD, PENDING
from hub_notifier.domain.commands import CreateSubscription
from hub_notifier.domain.notification import NotificationType, StatusReport, notification_bundle
from hub_notifier.domain.subscription import (
    Channel,
    RefusedSubscription,
    SubscriptionStatus,
    check_filter,
)
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions


@dataclass(frozen=True)
class Created:
    """A new subscription, with the signing secret the agency will never be shown again."""

    row: Any
    secret: str


class SubscriptionService:
    """Registers subscriptions and reports on them; an agency sees only its own."""

    def __init__(
        self,
        sessions: Sessions,
        base_url: str,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
        *,
        rotation_grace: timedelta = timedelta(hours=24),
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions))
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
        unit = self._new_unit()
        async with unit.transaction():
            await unit.subscriptions.add(
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
            if rest_hook:
                await unit.notifications.add_deliveries([self._handshake(subscription_id, status)])
            row = await unit.subscriptions.find(subscription_id, command.organisation)
        self._on_commit()
        return Created(row, secret)

    def _handshake(self, subscription_id: str, status: SubscriptionStatus) -> dict[str, Any]:
        """The handshake's delivery row: the endpoint must answer it before any event."""
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
        return {
            "delivery_id": delivery_id,
            "subscription_id": subscription_id,
            "kind": NotificationType.HANDSHAKE.value,
            "channel": Channel.REST_HOOK.value,
            "body": dumps(body),
            "status": PENDING,
        }

    async def rotate_secret(self, subscription_id: str, organisation: str) -> Created | None:
        """A new signing secret, shown once; the old one keeps signing beside it for the
        grace period, so the receiver can switch at its own pace. None when unknown."""
        secret = secrets.token_urlsafe(32)
        grace_until = self._clock() + self._rotation_grace
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.subscriptions.rotate_secret(
                subscription_id, organisation, secret, grace_until
            )
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
            unit = self._new_unit()
            async with unit.transaction():
                await unit.subscriptions.set_heartbeat(
                    subscription_id, command.organisation, command.heartbeat_seconds
                )
        if status == SubscriptionStatus.OFF.value:
            await self._turn_off(subscription_id, command.organisation)
        elif status in (SubscriptionStatus.REQUESTED.value, SubscriptionStatus.ACTIVE.value):
            await self._turn_on(subscription_id, command.organisation, self._clock())
        else:
            raise RefusedSubscription(
                "Subscription.status", "off to turn it off, active or requested to turn it on"
            )
        self._on_commit()  # parked deliveries may be due again
        return await self.find(subscription_id, command.organisation)

    async def _turn_off(self, subscription_id: str, organisation: str) -> None:
        """Off: no new events are numbered for it, and its pending deliveries are parked."""
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.subscriptions.lock(subscription_id, organisation)
            if row is None or row.status == SubscriptionStatus.OFF.value:
                return
            await unit.subscriptions.park_pending(subscription_id)
            await unit.subscriptions.set_status(subscription_id, SubscriptionStatus.OFF)

    async def _turn_on(self, subscription_id: str, organisation: str, now: datetime) -> None:
        """Back on where it stopped: active, its parked deliveries due now, in their order.
        The endpoint cannot have changed, so there is no second handshake; `last_notified_at`
        restarts the heartbeat clock."""
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.subscriptions.lock(subscription_id, organisation)
            if row is None or row.status != SubscriptionStatus.OFF.value:
                return
            await unit.subscriptions.unpark(subscription_id, now)
            await unit.subscriptions.set_status(
                subscription_id, SubscriptionStatus.ACTIVE, last_notified_at=now
            )

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

        unit = self._new_unit()
        async with unit.transaction():
            rows = await unit.subscriptions.claim_quiet(now, limit)
            deliveries = []
            for row in rows:
                delivery_id = str(uuid.uuid4())
                deliveries.append(
                    {
                        "delivery_id": delivery_id,
                        "subscription_id": row.subscription_id,
                        "kind": NotificationType.HEARTBEAT.value,
                        "channel": Channel.REST_HOOK.value,
                        "body": dumps(heartbeat(row, delivery_id)),
                        "status": PENDING,
                    }
                )
            await unit.notifications.add_deliveries(deliveries)
            await unit.subscriptions.notified([row.subscription_id for row in rows], now)
        queued = len(rows)
        if queued:
            self._on_commit()
        return queued

    async def find(self, subscription_id: str, organisation: str) -> Any | None:
        """The subscription, or None when it is unknown or another organisation's."""
        unit = self._new_unit()
        async with unit.transaction():
            return await unit.subscriptions.find(subscription_id, organisation)

    async def status_report(self, subscription_id: str, organisation: str) -> StatusReport | None:
        """What `$status` answers: status, event count, and every delivery in trouble."""
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.subscriptions.find(subscription_id, organisation)
            if row is None:
                return None
            troubled = await unit.subscriptions.troubled(subscription_id)
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
