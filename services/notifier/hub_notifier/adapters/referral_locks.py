"""One referral's notifications are decided by one transaction at a time.

A referral's ServiceRequest (which may carry the referrer's e-mail address) and its Task
versions arrive on two topics, read by two consumer groups with no order between them. The
transaction recording a ServiceRequest and the one recording Task versions each take this lock
for every referral they touch, so one always sees what the other committed: a Task version
recorded first is e-mailed when its ServiceRequest arrives (tracking.py), and one recorded after
finds the address. Nothing is ever decided on a half-seen referral.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.storage.db import array_parameter

REFERRAL_LOCK_CLASS = 0x4E0715
"""The first key of the two-key advisory locks (a key space apart from the one-key outbox lock)."""

# Locks are taken in key order, so two transactions with overlapping referrals never deadlock
# (the ordered subquery is evaluated, and so locked, in that order). Two referrals whose ids
# hash alike share a lock: they wait for each other, nothing worse.
_LOCK_IN_ORDER = text(
    "select pg_advisory_xact_lock(:lock_class, key) from ("
    " select distinct hashtext(referral_id) as key from unnest(:referral_ids) as referral_id"
    " order by key) as keys"
).bindparams(array_parameter("referral_ids"))


async def lock_referrals(session: AsyncSession, referral_ids: Iterable[str]) -> None:
    """Hold each referral's lock until the transaction ends; take this before anything else."""
    ids = sorted(set(referral_ids))
    if ids:
        await session.execute(
            _LOCK_IN_ORDER, {"lock_class": REFERRAL_LOCK_CLASS, "referral_ids": ids}
        )
