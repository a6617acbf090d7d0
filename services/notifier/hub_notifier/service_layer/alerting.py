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

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.messaging.inbox import first_delivery
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import PENDING
from hub_notifier.adapters.mailer import compose
from hub_notifier.domain.alerts import Breach, Resolved, digest_email, parse_alert
from hub_notifier.domain.email_text import StatusEmail

log = logging.getLogger(__name__)

CONSUMER = "alerts"
LONDON = ZoneInfo("Europe/London")
a = orm.alerts


class AlertBook:
    """The coordinators' alerts: recorded once, read by borough, digested daily."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        digest_to: Mapping[str, str] | None = None,
        digest_at: time = time(8, 0),
        sender: str = "referral-hub@localhost",
        link: str = "",
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
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
        async with self._sessions.begin() as session:
            if not await first_delivery(session, orm.processed_events, CONSUMER, event_id):
                return
            if isinstance(alert, Breach):
                await self._open(session, alert, event_id)
            else:
                await self._resolve(session, alert)

    async def _open(self, session: AsyncSession, alert: Breach, event_id: str) -> None:
        await session.execute(
            insert(a)
            .values(
                referral_id=alert.referral_id,
                rule=alert.rule,
                level=alert.level,
                borough=alert.borough,
                event_id=event_id,
                due_at=alert.due_at,
                raised_at=alert.raised_at,
            )
            .on_conflict_do_nothing(index_elements=["referral_id", "rule", "level"])
        )

    async def _resolve(self, session: AsyncSession, alert: Resolved) -> None:
        await session.execute(
            update(a)
            .where(
                a.c.referral_id == alert.referral_id,
                a.c.rule == alert.rule,
                a.c.resolved_at.is_(None),
            )
            .values(resolved_at=alert.resolved_at, resolution=alert.resolution)
        )

    async def open_alerts(self, boroughs: frozenset[str], limit: int) -> list[dict[str, Any]]:
        """Open alerts in `boroughs`, oldest first: ids, rule, level and times only."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(a)
                    .where(a.c.resolved_at.is_(None), a.c.borough.in_(sorted(boroughs)))
                    .order_by(a.c.raised_at, a.c.referral_id, a.c.rule, a.c.level)
                    .limit(limit)
                )
            ).all()
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
            async with self._sessions.begin() as session:
                done = await session.scalar(
                    select(func.count())
                    .select_from(orm.alert_digests)
                    .where(
                        orm.alert_digests.c.borough == borough,
                        orm.alert_digests.c.day == local.date(),
                    )
                )
                if done:
                    continue
                rows = (
                    await session.execute(
                        select(a.c.referral_id, a.c.rule, a.c.level).where(
                            a.c.resolved_at.is_(None), a.c.borough == borough
                        )
                    )
                ).all()
                if not rows:
                    continue
                delivery_id = str(uuid.uuid4())
                claimed = await session.scalar(
                    insert(orm.alert_digests)
                    .values(
                        borough=borough,
                        day=local.date(),
                        delivery_id=delivery_id,
                        open_alerts=len(rows),
                    )
                    .on_conflict_do_nothing()
                    .returning(orm.alert_digests.c.delivery_id)
                )
                if claimed is None:  # another replica staged it a moment ago
                    continue
                digest = digest_email(borough, local.date(), [tuple(r) for r in rows], self._link)
                body = compose(
                    self._sender, address, StatusEmail(digest.subject, digest.body), delivery_id
                )
                await session.execute(
                    insert(orm.deliveries).values(
                        delivery_id=delivery_id,
                        kind="email",
                        channel="email",
                        target=address,
                        body=body,
                        status=PENDING,
                    )
                )
                staged += 1
        if staged:
            self._on_commit()
            log.info("staged %d service level digests", staged)
        return staged
