"""Nobody works on a restricted person's referral (UK GDPR article 18).

While an operator's restriction covers a referral or its episode (service_layer/
data_protection.py), the router keeps what it holds and changes none of it at anyone's hand:
no accepting, declining or assigning, no status change, no care plan, no onward referral.
Each such use case asks here first, after locking the Task, and the caller gets a 409 naming
the restriction. Two things still go through: the referrer withdrawing the referral (it ends
the processing) and a community organisation answering an onward referral sent before the
restriction (it is their record of what they did, and refusing it would lose it).
"""

from __future__ import annotations

from hub_router.adapters import task_repository as repo
from hub_router.adapters.unit_of_work import RouterUnitOfWork
from hub_router.domain.offers import ProcessingRestricted


async def refuse_if_restricted(uow: RouterUnitOfWork, stored: repo.StoredTask) -> None:
    """ProcessingRestricted when a restriction covers the Task's referral or episode."""
    referral_id = stored.task.referral_id
    if await uow.protection.restricted_among([referral_id, stored.episode_id]):
        raise ProcessingRestricted(referral_id)
