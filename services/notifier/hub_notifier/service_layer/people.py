"""One person's referrals from several agencies: what the owner and coordinators read, and
the coordinators' decisions on the pairs the matching left to them.

- **Other referrals of this person** (`same_person`): for the link worker who owns a
  referral and the coordinators of its borough. Routing facts only (source, received, status,
  step, borough), never another referrer's words or the person's details again, and each
  names the person's *episode*: their open referral (the earliest received of those still
  open), not their first referral ever.
- **Reviews** (`pending_reviews`, `decide`): a coordinator sees a pair only when both
  referrals are in their boroughs (comparing them shows both people's details), confirms it
  (the two people become one) or splits it (never asked again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.messaging.topics import Topics
from hub_common.security.audit import AuditEntry, stage_audit
from hub_notifier.adapters import orm
from hub_notifier.adapters.person_links import CLOSED_STATUSES, lock_linking, merge_people
from hub_notifier.domain.access import Reader
from hub_notifier.service_layer.reading import owned_by

p = orm.person_records
sr = orm.service_requests
t = orm.tasks
rv = orm.person_reviews

Decision = Literal["confirm", "split"]


class ReviewConflict(Exception):
    """The review was decided already, or confirming it would give one person two NHS numbers."""


@dataclass(frozen=True)
class OtherReferral:
    referral_id: str
    source: str
    received_at: datetime
    borough: str | None
    status: str | None
    business_status: str | None
    link_basis: str

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    def to_json(self, episode: str | None) -> dict[str, Any]:
        return {
            "referralId": self.referral_id,
            "source": self.source,
            "receivedAt": self.received_at.isoformat(),
            "borough": self.borough,
            "status": self.status or "requested",
            "businessStatus": self.business_status,
            "open": self.open,
            "episode": self.referral_id == episode,
            "linkedBy": self.link_basis,
        }


def episode_of(referrals: list[OtherReferral]) -> str | None:
    """The person's episode: their open referral (the earliest received of those open)."""
    open_ones = sorted((r.received_at, r.referral_id) for r in referrals if r.open)
    return open_ones[0][1] if open_ones else None


def _person(row: Any) -> dict[str, Any]:
    return {
        "referralId": row.referral_id,
        "source": row.source,
        "receivedAt": row.received_at.isoformat(),
        "borough": row.borough,
        "nhsNumber": row.nhs_number,
        "birthDate": row.birth_date.isoformat() if row.birth_date else None,
        "family": row.family,
        "given": list(row.given),
        "postcode": row.postcode,
        "phone": row.phone,
    }


class PeopleService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], topics: Topics) -> None:
        self._sessions = sessions
        self._topics = topics

    async def same_person(self, reader: Reader, referral_id: str) -> list[dict[str, Any]] | None:
        """Every referral of the person this referral is about, itself included; None when
        the reader may not read the referral (the answer is then 404)."""
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
        async with self._sessions() as session:
            if await session.scalar(select(person)) is None:
                return None
            rows = await session.execute(
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
            referrals = [
                OtherReferral(
                    row.referral_id,
                    row.source,
                    row.received_at,
                    row.borough,
                    row.status,
                    row.business_status,
                    row.link_basis,
                )
                for row in rows
            ]
        episode = episode_of(referrals)
        return [referral.to_json(episode) for referral in referrals]

    async def pending_reviews(self, boroughs: frozenset[str], limit: int) -> list[dict[str, Any]]:
        """Undecided pairs whose two referrals are both in `boroughs`, oldest first."""
        if not boroughs:
            return []
        mine = sorted(boroughs)
        new_sr, old_sr = sr.alias("new_sr"), sr.alias("old_sr")
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(rv, new_sr.c.borough)
                    .join(new_sr, new_sr.c.referral_id == rv.c.referral_id)
                    .join(old_sr, old_sr.c.referral_id == rv.c.other_referral_id)
                    .where(
                        rv.c.status == "pending",
                        new_sr.c.borough.in_(mine),
                        old_sr.c.borough.in_(mine),
                    )
                    .order_by(rv.c.created_at, rv.c.review_id)
                    .limit(limit)
                )
            ).all()
            ids = sorted({r.referral_id for r in rows} | {r.other_referral_id for r in rows})
            people = {
                row.referral_id: _person(row)
                for row in await session.execute(
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
                    .where(p.c.referral_id.in_(ids))
                )
            }
        return [
            {
                "reviewId": row.review_id,
                "score": row.score,
                "fields": row.fields,
                "swappedNames": row.swapped_names,
                "createdAt": row.created_at.isoformat(),
                "referral": people[row.referral_id],
                "other": people[row.other_referral_id],
            }
            for row in rows
        ]

    async def decide(
        self,
        boroughs: frozenset[str],
        review_id: str,
        decision: Decision,
        decided_by: str,
        audit: AuditEntry,
    ) -> dict[str, Any] | None:
        """Confirm or split a pending pair; None when the caller may not see it. The decision
        and its audit entry commit together."""
        new_sr, old_sr = sr.alias("new_sr"), sr.alias("old_sr")
        async with self._sessions.begin() as session:
            await lock_linking(session)
            row = (
                await session.execute(
                    select(rv.c.referral_id, rv.c.other_referral_id, rv.c.status)
                    .join(new_sr, new_sr.c.referral_id == rv.c.referral_id)
                    .join(old_sr, old_sr.c.referral_id == rv.c.other_referral_id)
                    .where(
                        rv.c.review_id == review_id,
                        new_sr.c.borough.in_(sorted(boroughs)),
                        old_sr.c.borough.in_(sorted(boroughs)),
                    )
                    .with_for_update(of=rv)
                )
            ).first()
            if row is None:
                return None
            if row.status != "pending":
                raise ReviewConflict(f"this pair was decided already ({row.status})")
            pair = [row.referral_id, row.other_referral_id]
            persons = {
                r.referral_id: r
                for r in await session.execute(
                    select(p.c.referral_id, p.c.person_id).where(p.c.referral_id.in_(pair))
                )
            }
            keep = persons[row.other_referral_id].person_id
            other = persons[row.referral_id].person_id
            if decision == "confirm":
                numbers = set(
                    (
                        await session.scalars(
                            select(p.c.nhs_number).where(
                                p.c.person_id.in_([keep, other]), p.c.nhs_number.is_not(None)
                            )
                        )
                    ).all()
                )
                if len(numbers) > 1:
                    raise ReviewConflict("the two people have different NHS numbers")
                await merge_people(session, keep, {keep, other})
                await session.execute(
                    update(p)
                    .where(p.c.referral_id == row.referral_id, p.c.link_basis == "self")
                    .values(link_basis="coordinator")
                )
            status = "confirmed" if decision == "confirm" else "split"
            await session.execute(
                update(rv)
                .where(rv.c.review_id == review_id)
                .values(status=status, decided_by=decided_by, decided_at=datetime.now(UTC))
            )
            await stage_audit(session, orm.outbox, self._topics, audit.about(pair))
        return {"reviewId": review_id, "status": status, "referrals": pair}
