"""The coordinators' service level alerts and their daily digests, as a repository over the
use case's session (`service_layer/alerting.py`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_notifier.adapters import orm
from hub_notifier.domain.alerts import Breach, Resolved

a = orm.alerts
digests = orm.alert_digests


class Alerts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open(self, alert: Breach, event_id: str) -> None:
        """Keep a breach once per referral, rule and level (a relay may publish it twice)."""
        await self._session.execute(
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

    async def resolve(self, alert: Resolved) -> None:
        """Every open level of the referral's rule is resolved."""
        await self._session.execute(
            update(a)
            .where(
                a.c.referral_id == alert.referral_id,
                a.c.rule == alert.rule,
                a.c.resolved_at.is_(None),
            )
            .values(resolved_at=alert.resolved_at, resolution=alert.resolution)
        )

    async def open_in(self, boroughs: Collection[str], limit: int) -> list[Any]:
        """Open alerts in `boroughs`, oldest first."""
        return list(
            (
                await self._session.execute(
                    select(a)
                    .where(a.c.resolved_at.is_(None), a.c.borough.in_(sorted(boroughs)))
                    .order_by(a.c.raised_at, a.c.referral_id, a.c.rule, a.c.level)
                    .limit(limit)
                )
            ).all()
        )

    async def digest_sent(self, borough: str, day: date) -> bool:
        return bool(
            await self._session.scalar(
                select(func.count())
                .select_from(digests)
                .where(digests.c.borough == borough, digests.c.day == day)
            )
        )

    async def open_of(self, borough: str) -> list[tuple[str, str, str]]:
        """The borough's open alerts as (referral id, rule, level)."""
        rows = await self._session.execute(
            select(a.c.referral_id, a.c.rule, a.c.level).where(
                a.c.resolved_at.is_(None), a.c.borough == borough
            )
        )
        return [(row.referral_id, row.rule, row.level) for row in rows]

    async def claim_digest(self, borough: str, day: date, delivery_id: str, count: int) -> bool:
        """The borough's digest of `day` is this delivery; False when another replica staged
        it a moment ago."""
        claimed = await self._session.scalar(
            insert(digests)
            .values(borough=borough, day=day, delivery_id=delivery_id, open_alerts=count)
            .on_conflict_do_nothing()
            .returning(digests.c.delivery_id)
        )
        return claimed is not None
