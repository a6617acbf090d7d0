"""The router's share of erasure and restriction (hub_common.privacy.data_protection): the SQL.

Erasure keeps each Task pseudonymised exactly as the retention sweep does at the end of a
referral's period (retention_store.anonymise: the coordinators' figures stay whole) and deletes
the rest: care plan, service level clock, routing explanations, onward referrals, and any
referral held while the person was restricted. Restriction records the person's referral and
episode ids; routing holds their new referrals and the offer sweep leaves their offers alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_router.adapters import orm
from hub_router.adapters.retention_store import anonymise

t = orm.tasks
held = orm.held_referrals
restrictions = orm.restrictions


async def erase(
    session: AsyncSession, referral_ids: Iterable[str], episode_ids: Iterable[str]
) -> dict[str, int]:
    """Pseudonymise the person's Tasks, delete the rest; counts of referrals and held ones."""
    referrals, episodes = list(referral_ids), list(episode_ids)
    rows = (
        await session.execute(
            select(t.c.referral_id, t.c.task, t.c.facts)
            .where(or_(t.c.referral_id.in_(referrals), t.c.episode_id.in_(episodes)))
            .with_for_update()
        )
    ).all()
    await anonymise(session, rows)
    gone = await session.execute(
        delete(held).where(or_(held.c.referral_id.in_(referrals), held.c.episode_id.in_(episodes)))
    )
    return {"tasks": len(rows), "heldReferrals": int(gone.rowcount)}  # type: ignore[attr-defined]


async def restrict(session: AsyncSession, request_id: str, subjects: Iterable[str]) -> int:
    values = [{"subject_id": subject, "request_id": request_id} for subject in subjects]
    if not values:
        return 0
    await session.execute(insert(restrictions).on_conflict_do_nothing(), values)
    return len(values)


async def lift(session: AsyncSession, restriction_id: str) -> None:
    await session.execute(delete(restrictions).where(restrictions.c.request_id == restriction_id))


async def restricted_among(session: AsyncSession, subjects: Iterable[str]) -> set[str]:
    """Which of these referral and episode ids are restricted."""
    wanted = sorted(set(subjects))
    if not wanted:
        return set()
    found = await session.execute(
        select(restrictions.c.subject_id).where(restrictions.c.subject_id.in_(wanted)).distinct()
    )
    return set(found.scalars())


async def hold(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep referrals of a restricted person unrouted (a redelivery inserts nothing)."""
    if rows:
        await session.execute(insert(held).on_conflict_do_nothing(), rows)


async def released(session: AsyncSession) -> list[Any]:
    """Held referrals no restriction covers any more, oldest first."""
    covered = select(restrictions.c.subject_id)
    return list(
        (
            await session.execute(
                select(held)
                .where(held.c.referral_id.not_in(covered), held.c.episode_id.not_in(covered))
                .order_by(held.c.held_at)
            )
        ).all()
    )


async def forget_held(session: AsyncSession, referral_ids: Iterable[str]) -> None:
    await session.execute(delete(held).where(held.c.referral_id.in_(list(referral_ids))))


class ProtectionRepository:
    """Erasure, restrictions and held referrals, in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def erase(
        self, referral_ids: Iterable[str], episode_ids: Iterable[str]
    ) -> dict[str, int]:
        return await erase(self._session, referral_ids, episode_ids)

    async def restrict(self, request_id: str, subjects: Iterable[str]) -> int:
        return await restrict(self._session, request_id, subjects)

    async def lift(self, restriction_id: str) -> None:
        await lift(self._session, restriction_id)

    async def restricted_among(self, subjects: Iterable[str]) -> set[str]:
        return await restricted_among(self._session, subjects)

    async def hold(self, rows: list[dict[str, Any]]) -> None:
        await hold(self._session, rows)

    async def released(self) -> list[Any]:
        return await released(self._session)

    async def forget_held(self, referral_ids: Iterable[str]) -> None:
        await forget_held(self._session, referral_ids)
