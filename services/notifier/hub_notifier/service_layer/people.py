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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hub_common.messaging.topics import Topics
from hub_common.security.audit import AuditEntry
from hub_notifier.adapters.person_links import CLOSED_STATUSES
from hub_notifier.domain.access import Reader
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

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
    def __init__(
        self,
        sessions: Sessions,
        topics: Topics,
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions, topics))

    async def same_person(self, reader: Reader, referral_id: str) -> list[dict[str, Any]] | None:
        """Every referral of the person this referral is about, itself included; None when
        the reader may not read the referral (the answer is then 404)."""
        unit = self._new_unit()
        async with unit.transaction():
            rows = await unit.people.same_person(reader, referral_id)
        if rows is None:
            return None
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
        unit = self._new_unit()
        async with unit.transaction():
            rows = await unit.people.pending_reviews(boroughs, limit)
            ids = {r.referral_id for r in rows} | {r.other_referral_id for r in rows}
            people = {row.referral_id: _person(row) for row in await unit.people.demographics(ids)}
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
        unit = self._new_unit()
        async with unit.transaction():
            reviews = unit.people
            row = await reviews.lock_review(boroughs, review_id)
            if row is None:
                return None
            if row.status != "pending":
                raise ReviewConflict(f"this pair was decided already ({row.status})")
            pair = [row.referral_id, row.other_referral_id]
            persons = await reviews.people_of(pair)
            keep = persons[row.other_referral_id]
            other = persons[row.referral_id]
            if decision == "confirm":
                if len(await reviews.nhs_numbers([keep, other])) > 1:
                    raise ReviewConflict("the two people have different NHS numbers")
                await reviews.merge(keep, {keep, other}, row.referral_id)
            status = "confirmed" if decision == "confirm" else "split"
            await reviews.decide(review_id, status, decided_by, datetime.now(UTC))
            unit.stage(audit.about(pair))
        return {"reviewId": review_id, "status": status, "referrals": pair}
