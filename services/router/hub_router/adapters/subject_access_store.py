"""The router's part of a subject access export: what casework recorded about the person.

For each referral: its Task as the router keeps it (status, owner, casework outputs: wellbeing
measures, support offered, the outcome), every version of its care and support plan, and each
onward referral to a community organisation (the ServiceRequest shared with it, its Task).
Routing explanations are left out: they are about link workers (who was or was not offered
the referral and why), and the Task already says who holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.privacy.subject_access import Collector
from hub_router.adapters import care_plan_store, orm
from hub_router.adapters.fhir_care_plan import to_care_plan

t = orm.tasks
o = orm.onward_referrals


def subject_access_collector(sessions: async_sessionmaker[AsyncSession]) -> Collector:
    async def collect(referral_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = list(referral_ids)
        async with sessions() as session:
            tasks = (
                await session.execute(
                    select(t.c.referral_id, t.c.episode_id, t.c.owner, t.c.task)
                    .where(t.c.referral_id.in_(ids))
                    .order_by(t.c.referral_id)
                )
            ).all()
            found: list[dict[str, Any]] = [dict(task.task) for task in tasks]
            for task in tasks:  # a plan names the person by the Task's episode, as it is read
                plans = await care_plan_store.versions(session, task.referral_id)
                found += [to_care_plan(p, task.episode_id, task.owner) for p in reversed(plans)]
            for onward in await session.execute(
                select(o.c.request, o.c.task)
                .where(o.c.referral_id.in_(ids))
                .order_by(o.c.referral_id, o.c.onward_id)
            ):
                found += [dict(onward.request), dict(onward.task)]
        return found

    return collect
