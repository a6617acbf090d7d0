"""Look-ups in the Task timeline (every version of every referral, as recorded)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub_notifier.adapters import orm
from hub_notifier.domain.message_back import CONTACT_STEPS

h = orm.task_history


async def first_contact_versions(
    session: AsyncSession, referral_ids: Collection[str]
) -> dict[str, int]:
    """Per referral, the first recorded version at a contact step (the person took up
    support then). Reads only the given referrals' versions, through the primary key."""
    if not referral_ids:
        return {}
    step = h.c.task["businessStatus"]["coding"][0]["code"].astext
    rows = await session.execute(
        select(h.c.referral_id, func.min(h.c.version))
        .where(h.c.referral_id.in_(sorted(referral_ids)), step.in_(sorted(CONTACT_STEPS)))
        .group_by(h.c.referral_id)
    )
    return {str(referral_id): int(version) for referral_id, version in rows.all()}
