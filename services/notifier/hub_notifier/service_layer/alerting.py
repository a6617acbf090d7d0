"""Service level alerts for coordinators: kept from `hub.alerts`, listed by borough, and sent
once a day per borough as a digest e-mail through the delivery rows (retries, dead letters).

Resolution comes from the router's own resolving alerts, not from the Task snapshots this
service also records: both alert kinds travel on one topic keyed by referral, so Kafka keeps a
breach before its resolution; a Task snapshot on `referrals.tasks` could overtake the breach it
resolves, and the notifier would have to repeat the router's rules of what counts as contact.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from hub_notifier.adapters.delivery_store import PENDING
from hub_notifier.adapters.mailer import compose
from hub_notifier.domain.alerts import Breach, digest_email, parse_alert
from hub_notifier.domain.email_text import StatusEmail
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

log = logging.getLogger(__name__)

CONSUMER = "alerts"
LONDON = ZoneInfo("Europe/London")


class AlertBook:
    """The coordinators' alerts: recorded once, read by borough, digested daily."""

    def __init__(
        self,
        sessions: Sessions,
        *,
        digest_to: Mapping[str, str] | None = None,
        digest_at: time = time(8, 0),
        sender: str = "referral-hub@localhost",
        link: str = "",
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions))
        self._digest_to = dict(digest_to or {})
        self._digest_at = digest_at
        self._sender = sender
        self._link = link
        self._on_commit = on_commit
        self._clock = clock

    async def record(self, value: Any, event_id: str) -> None:
        """Keep one alert. Idempotent twice over: on the event id (a redelivery), and on the
        alert's identity, referral, rule and level (a relay that published it twice)."""
        alert = parse_alert(value)  # ValueError: the consumer sets the message aside
        if alert is None:
            return
        unit = self._new_unit()
        async with unit.transaction():
            if not await unit.processed.first_one(CONSUMER, event_id):
                return
            if isinstance(alert, Breach):
                await unit.alerts.open(alert, event_id)
            else:
                await unit.alerts.resolve(alert)

    async def open_alerts(self, boroughs: frozenset[str], limit: int) -> list[dict[str, Any]]:
        """Open alerts in `boroughs`, oldest first: ids, rule, level and times only."""
        unit = self._new_unit()
        async with unit.transaction():
            rows = await unit.alerts.open_in(boroughs, limit)
        return [
            {
                "referralId": row.referral_id,
                "task": f"Task/{row.referral_id}",
                "borough": row.borough,
                "rule": row.rule,
                "level": row.level,
                "dueAt": row.due_at.isoformat(),
                "raisedAt": row.raised_at.isoformat(),
            }
            for row in rows
        ]

    async def send_digests(self) -> int:
        """Stage today's digest for each configured borough with open alerts, once a day after
        the configured London time; the count staged (replicas racing stage each once)."""
        now = self._clock()
        local = now.astimezone(LONDON)
        if local.time() < self._digest_at or not self._digest_to:
            return 0
        staged = 0
        for borough, address in sorted(self._digest_to.items()):
            unit = self._new_unit()
            async with unit.transaction():
                if await unit.alerts.digest_sent(borough, local.date()):
                    continue
                rows = await unit.alerts.open_of(borough)
                if not rows:
                    continue
                delivery_id = str(uuid.uuid4())
                if not await unit.alerts.claim_digest(
                    borough, local.date(), delivery_id, len(rows)
                ):
                    continue  # another replica staged it a moment ago
                digest = digest_email(borough, local.date(), rows, self._link)
                body = compose(
                    self._sender, address, StatusEmail(digest.subject, digest.body), delivery_id
                )
                await unit.notifications.add_deliveries(
                    [
                        {
                            "delivery_id": delivery_id,
                            "kind": "email",
                            "channel": "email",
                            "target": address,
                            "body": body,
                            "status": PENDING,
                        }
                    ]
                )
                staged += 1
        if staged:
            self._on_commit()
            log.info("staged %d service level digests", staged)
        return staged
