"""Telling referrers about a change, written in the transaction that records the change.

For a change of an organisation's Task, every live subscription of that organisation gets the
next event number and a delivery row (rest-hook) or an outbox row (Kafka); an organisation with
no subscription at all gets an e-mail when the referral names the referrer's address. Nothing
is sent from here: the rows commit with the change or not at all, and the delivery worker and
the outbox relay send what committed. That is what makes "killing the notifier at any moment
loses no notification" true.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.agency_formats import inbound_sources
from hub_common.jsonio import dumps
from hub_common.messaging.envelope import event_traceparent
from hub_common.messaging.topics import Topics
from hub_notifier.adapters.delivery_store import DEAD, DELIVERED, PENDING
from hub_notifier.adapters.mailer import compose
from hub_notifier.adapters.notifications import LiveSubscription
from hub_notifier.domain.email_text import StatusEmail, status_email
from hub_notifier.domain.events import StatusNotified
from hub_notifier.domain.message_back import MessageBack, document_id, message_back_parameter
from hub_notifier.domain.notification import (
    Event,
    NotificationType,
    StatusReport,
    notification_bundle,
)
from hub_notifier.domain.subscription import Channel, number_events
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One change a referrer must hear about, by ids and codes only."""

    referral_id: str  # the Task's id (the referral id, or the rejection id)
    status: str
    business_status: str
    requester_org: str
    source: str
    referrer_reference: str | None
    message_back: MessageBack | None
    email_to: str | None  # the referrer's address, used only when they have no subscription
    traceparent: str | None = None
    email: StatusEmail | None = None  # the e-mail to send instead of the referrer's status one
    business_status_text: str | None = None  # the step in words, e.g. "connected to 2 services"


class Announcer:
    """Writes the notifications of a change through the caller's unit of work (which owns the
    transaction): delivery rows, and the Kafka channel's events staged for the outbox."""

    def __init__(
        self,
        topics: Topics,
        base_url: str,
        smtp_sender: str,
        clock: Callable[[], datetime],
        web_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.topics = topics  # the namespace of the status topics its events go to
        self._base_url = base_url.rstrip("/")
        self._web_url = web_url.rstrip("/")  # where people read a referral (HUB_WEB_URL)
        self._sender = smtp_sender
        self._clock = clock

    def subscription_url(self, subscription_id: str) -> str:
        return f"{self._base_url}/fhir/Subscription/{subscription_id}"

    async def announce(self, unit: NotifierUnitOfWork, change: Change) -> int:
        """Returns how many notifications were staged."""
        return await self.announce_all(unit, [change])

    async def announce_all(self, unit: NotifierUnitOfWork, changes: Sequence[Change]) -> int:
        """Stage the notifications of several changes, in their order, with one statement per
        kind of row rather than several per change. Returns how many were staged."""
        if not changes:
            return 0
        live = await unit.notifications.lock_live({change.requester_org for change in changes})
        subscriptions_of: dict[str, list[LiveSubscription]] = defaultdict(list)
        for subscription in live:
            subscriptions_of[subscription.requester_org].append(subscription)
        counters = {sub.subscription_id: sub.events_since_start for sub in live}
        now = self._clock()
        rows: list[dict[str, Any]] = []
        for change in changes:
            subscriptions = subscriptions_of.get(change.requester_org)
            if not subscriptions:
                if email := self._email(change):
                    rows.append(email)
                continue
            for subscription in subscriptions:
                numbers, counters[subscription.subscription_id] = number_events(
                    counters[subscription.subscription_id], 1
                )
                row, event = self._notification(subscription, numbers[0], change, now)
                rows.append(row)
                if event is not None:
                    unit.stage(event)
        await unit.notifications.count_events(
            {
                sub.subscription_id: counters[sub.subscription_id]
                for sub in live
                if counters[sub.subscription_id] != sub.events_since_start
            },
            now,
        )
        await unit.notifications.add_deliveries(rows)
        return len(rows)

    async def announce_missed_emails(
        self, unit: NotifierUnitOfWork, changes: Sequence[Change]
    ) -> int:
        """Stage only the e-mails of changes recorded before the referrer's address was known,
        in their order; returns how many. Subscriptions heard of them when they were recorded,
        so an organisation with a live subscription gets nothing more (the rule `announce_all`
        applies)."""
        wanting = [change for change in changes if change.email_to]
        if not wanting:
            return 0
        subscribed = await unit.notifications.subscribed(
            {change.requester_org for change in wanting}
        )
        rows = [
            row
            for change in wanting
            if change.requester_org not in subscribed and (row := self._email(change))
        ]
        await unit.notifications.add_deliveries(rows)
        return len(rows)

    def _notification(
        self, subscription: LiveSubscription, number: int, change: Change, now: datetime
    ) -> tuple[dict[str, Any], StatusNotified | None]:
        """The delivery row of one event of one subscription, and the Kafka event that is its
        delivery on the message channel."""
        delivery_id = str(uuid.uuid4())
        body = self._bundle(subscription, number, change, delivery_id, now)
        row: dict[str, Any] = {
            "delivery_id": delivery_id,
            "subscription_id": subscription.subscription_id,
            "event_number": number,
            "kind": NotificationType.EVENT_NOTIFICATION.value,
            "channel": subscription.channel,
            "referral_id": change.referral_id,
            "body": body,
            "status": PENDING,
            "traceparent": event_traceparent(change.traceparent),
        }
        if subscription.channel != Channel.MESSAGE.value:
            return row, None
        if change.source not in inbound_sources():
            # No `referrals.status.<source>.<agency>` topic exists for it: say so, visibly.
            row.update(status=DEAD, last_error="no status topic for this source")
            return row, None
        # The outbox relay is this channel's delivery mechanism: handed over is sent. The
        # topic is the subscriber's own (its requester_org), read by that agency alone.
        row.update(status=DELIVERED, delivered_at=now)
        return row, StatusNotified(
            source=change.source,
            requester_org=change.requester_org,
            referral_id=change.referral_id,
            bundle=body,
            traceparent=change.traceparent,
        )

    def _bundle(
        self,
        subscription: LiveSubscription,
        number: int,
        change: Change,
        delivery_id: str,
        now: datetime,
    ) -> bytes:
        report = StatusReport(
            subscription_url=self.subscription_url(subscription.subscription_id),
            status=subscription.status,
            type=NotificationType.EVENT_NOTIFICATION,
            events_since_start=number,
            events=(Event(number, now, f"Task/{change.referral_id}"),),
            extra=(
                (
                    message_back_parameter(
                        change.message_back, number, self._document_url(change, change.message_back)
                    ),
                )
                if change.message_back
                else ()
            ),
        )
        return dumps(
            notification_bundle(
                report, bundle_id=delivery_id, base_url=self._base_url, timestamp=now
            )
        )

    def _document_url(self, change: Change, message: MessageBack) -> str:
        """Where the GP practice reads this message back as a document Bundle."""
        name = document_id(change.referral_id, message.moment)
        return f"{self._base_url}/fhir/Bundle/{name}"

    def _email(self, change: Change) -> dict[str, Any] | None:
        """The e-mail delivery row for a referrer with no subscription, if they gave an address."""
        if not change.email_to:
            return None
        delivery_id = str(uuid.uuid4())
        email = change.email or status_email(
            referral_id=change.referral_id,
            status=change.status,
            business_status=change.business_status_text or change.business_status,
            # A person opens the link: the web app's page, not the API (which answers 401).
            link=(
                f"{self._web_url}/referrer/resubmit?rejection={change.referral_id}"
                if change.status == "rejected"
                else f"{self._web_url}/referrer/referrals/{change.referral_id}"
            ),
            referrer_reference=change.referrer_reference,
            message=change.message_back,
            document_link=(
                self._document_url(change, change.message_back) if change.message_back else None
            ),
        )
        return {
            "delivery_id": delivery_id,
            "kind": "email",
            "channel": "email",
            "target": change.email_to,
            "referral_id": change.referral_id,
            "body": compose(self._sender, change.email_to, email, delivery_id),
            "status": PENDING,
            "traceparent": event_traceparent(change.traceparent),
        }
