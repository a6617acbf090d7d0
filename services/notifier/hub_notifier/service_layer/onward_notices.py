"""Telling community organisations about their onward referrals (`referrals.onward`).

An organisation with a FHIR Subscription (rest-hook, made with its `organisation` credential)
hears of every change exactly as an agency hears of its referrals: the same event numbering,
signed deliveries, retries and dead letters (`notifying.Announcer`), the focus being the onward
Task on the router. An organisation without one is e-mailed, at its directory contact, only
what needs it to act: a new referral, the reminder at half the deadline, and the referral
lapsing; the e-mail carries a link to the web app, never the person.

Idempotent: the event id is recorded in the transaction that stages the notifications, so a
redelivered event stages nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from hub_common.messaging.onward import OnwardEvent, organisation_key
from hub_notifier.domain.email_text import ONWARD_SUBJECTS, onward_email
from hub_notifier.service_layer.notifying import Announcer, Change
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

log = logging.getLogger(__name__)

CONSUMER = "notifier-onward"
SOURCE = "onward"  # not an agency source: an organisation's subscription is rest-hook only
LONDON = ZoneInfo("Europe/London")


class OnwardNotices:
    """Stages the notifications of each onward referral change for its organisation."""

    def __init__(
        self,
        sessions: Sessions,
        announcer: Announcer,
        web_url: str,
        on_commit: Callable[[], None] = lambda: None,
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._announcer = announcer
        self._web_url = web_url.rstrip("/")
        self._on_commit = on_commit
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions, announcer.topics))

    def link(self, onward_id: str) -> str:
        return f"{self._web_url}/organisation/referrals/{onward_id}"

    async def record(self, event: OnwardEvent, event_id: str, traceparent: str | None) -> None:
        """One event, validated by the consumer (a malformed one was set aside there)."""
        unit = self._new_unit()
        async with unit.transaction():
            if not await unit.processed.first_one(CONSUMER, event_id):
                return
            staged = await self._announcer.announce(unit, self.change(event, traceparent))
        if staged:
            self._on_commit()
        log.info("onward referral %s %s: %d notifications", event.onward_id, event.kind, staged)

    def change(self, event: OnwardEvent, traceparent: str | None) -> Change:
        service = event.service
        wants_email = event.kind in ONWARD_SUBJECTS and service.organisation_email
        # The day it is due by: deadlines are London midnights, "by the end of" the day before.
        due_day = event.due_at.astimezone(LONDON).date() - timedelta(days=1)
        return Change(
            referral_id=event.onward_id,
            status=event.status,
            business_status=event.business_status,
            requester_org=organisation_key(service.organisation_id),
            source=SOURCE,
            referrer_reference=None,
            message_back=None,
            email_to=service.organisation_email if wants_email else None,
            traceparent=traceparent,
            email=onward_email(
                kind=event.kind,
                onward_id=event.onward_id,
                service_name=service.service_name,
                due=due_day.strftime("%A %d %B %Y"),
                link=self.link(event.onward_id),
            )
            if wants_email
            else None,
        )
