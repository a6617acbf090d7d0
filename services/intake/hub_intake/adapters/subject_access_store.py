"""Intake's part of a subject access export: each referral as it was received.

Intake keeps the referral's outgoing ServiceRequest (the person contained) until its period
ends; that is all it holds about a person by referral id. Refused messages carry no referral
id (nothing was accepted), so they are not found this way: see docs/data-protection.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.privacy.subject_access import Collector
from hub_intake.adapters import orm

r = orm.referrals


def subject_access_collector(sessions: async_sessionmaker[AsyncSession]) -> Collector:
    async def collect(referral_ids: Sequence[str]) -> list[dict[str, Any]]:
        async with sessions() as session:
            rows = await session.scalars(
                select(r.c.service_request)
                .where(r.c.referral_id.in_(list(referral_ids)))
                .order_by(r.c.received_at, r.c.referral_id)
            )
            return [dict(resource) for resource in rows]

    return collect
