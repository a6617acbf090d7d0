"""One person's referrals and the coordinators' reviews of uncertain pairs, as a repository
over the use case's session (`service_layer/people.py` decides what each reader may have).
Linking new referrals is person_links.py."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub_notifier.adapters import orm
from hub_notifier.adapters.person_links import lock_linking, merge_people
from hub_notifier.adapters.read_store import owned_by
from hub_notifier.domain.access import Reader

p = orm.person_records
sr = orm.service_requests
t = orm.tasks
rv = orm.person_reviews


def _pair_in(boroughs: Collection[str]) -> tuple[Any, Any, ColumnElement[bool]]:
    """The two referrals of a review, and the condition that both are in `boroughs`."""
    new_sr, old_sr = sr.alias("new_sr"), sr.alias("old_sr")
    mine = sorted(boroughs)
    both: ColumnElement[bool] = new_sr.c.borough.in_(mine) & old_sr.c.borough.in_(mine)
    return new_sr, old_sr, both


class People:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def same_person(self, reader: Reader, referral_id: str) -> list[Any] | None:
        """Every referral of the person this referral is about, itself included, with its
        routing facts, oldest first; None when the reader may not read the referral (a worker:
        one they work on; a coordinator: one in their boroughs)."""
        if reader.worker is not None:
            visible = owned_by(reader.worker, sr.c.referral_id)
        elif reader.boroughs:
            visible = sr.c.borough.in_(sorted(reader.boroughs))
        else:
            return None
        person = (
            select(p.c.person_id)
            .join(sr, sr.c.referral_id == p.c.referral_id)
            .where(p.c.referral_id == referral_id, visible)
            .scalar_subquery()
        )
        # One statement: an unseen or unlinked referral makes `person` NULL and matches no row;
        # a seen one matches at least itself.
        rows = await self._session.execute(
            select(
                p.c.referral_id,
                p.c.link_basis,
                sr.c.source,
                sr.c.received_at,
                sr.c.borough,
                t.c.status,
                t.c.business_status,
            )
            .join(sr, sr.c.referral_id == p.c.referral_id)
            .outerjoin(t, t.c.referral_id == p.c.referral_id)
            .where(p.c.person_id == person)
            .order_by(sr.c.received_at, p.c.referral_id)
        )
        return list(rows) or None

    async def pending_reviews(self, boroughs: Collection[str], limit: int) -> list[Any]:
        """Undecided pairs whose two referrals are both in `boroughs`, oldest first."""
        new_sr, old_sr, both = _pair_in(boroughs)
        return list(
            (
                await self._session.execute(
                    select(rv, new_sr.c.borough)
                    .join(new_sr, new_sr.c.referral_id == rv.c.referral_id)
                    .join(old_sr, old_sr.c.referral_id == rv.c.other_referral_id)
                    .where(rv.c.status == "pending", both)
                    .order_by(rv.c.created_at, rv.c.review_id)
                    .limit(limit)
                )
            ).all()
        )

    async def demographics(self, referral_ids: Collection[str]) -> list[Any]:
        """The linking demographics of these referrals, with their routing facts."""
        return list(
            await self._session.execute(
                select(
                    p.c.referral_id,
                    p.c.nhs_number,
                    p.c.birth_date,
                    p.c.family,
                    p.c.given,
                    p.c.postcode,
                    p.c.phone,
                    sr.c.source,
                    sr.c.received_at,
                    sr.c.borough,
                )
                .join(sr, sr.c.referral_id == p.c.referral_id)
                .where(p.c.referral_id.in_(sorted(referral_ids)))
            )
        )

    async def lock_review(self, boroughs: Collection[str], review_id: str) -> Any | None:
        """The review's pair and status, locked, holding the linking lock (a decision and the
        linking of new referrals run one at a time); None unless both are in `boroughs`."""
        await lock_linking(self._session)
        new_sr, old_sr, both = _pair_in(boroughs)
        return (
            await self._session.execute(
                select(rv.c.referral_id, rv.c.other_referral_id, rv.c.status)
                .join(new_sr, new_sr.c.referral_id == rv.c.referral_id)
                .join(old_sr, old_sr.c.referral_id == rv.c.other_referral_id)
                .where(rv.c.review_id == review_id, both)
                .with_for_update(of=rv)
            )
        ).first()

    async def people_of(self, referral_ids: Collection[str]) -> dict[str, str]:
        """Each referral's person id."""
        rows = await self._session.execute(
            select(p.c.referral_id, p.c.person_id).where(p.c.referral_id.in_(sorted(referral_ids)))
        )
        return {row.referral_id: row.person_id for row in rows}

    async def nhs_numbers(self, person_ids: Collection[str]) -> set[str]:
        """The NHS numbers these people's referrals carry."""
        return set(
            (
                await self._session.scalars(
                    select(p.c.nhs_number).where(
                        p.c.person_id.in_(sorted(person_ids)), p.c.nhs_number.is_not(None)
                    )
                )
            ).all()
        )

    async def merge(self, keep: str, others: set[str], confirmed_referral: str) -> None:
        """The people `others` become `keep`; `confirmed_referral`, if it was linked to no one,
        is now linked by a coordinator."""
        await merge_people(self._session, keep, others)
        await self._session.execute(
            update(p)
            .where(p.c.referral_id == confirmed_referral, p.c.link_basis == "self")
            .values(link_basis="coordinator")
        )

    async def decide(self, review_id: str, status: str, decided_by: str, at: datetime) -> None:
        await self._session.execute(
            update(rv)
            .where(rv.c.review_id == review_id)
            .values(status=status, decided_by=decided_by, decided_at=at)
        )
