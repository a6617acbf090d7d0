"""One person's referrals from several agencies, as the pages show them (from the notifier's
JSON). Pure: the worker's "Other referrals of this person" and the coordinator's "Same
person?" pairs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_web.domain.tasks import parse_instant

LINKED_BY = {
    "self": "First referral of this person",
    "nhs-number": "Same NHS number",
    "demographics": "Same name, birth date and contact details",
    "coordinator": "Confirmed by a coordinator",
}
FIELD_LABELS = {
    "birthDate": "Birth date",
    "family": "Family name",
    "given": "Given name",
    "postcode": "Postcode",
    "phone": "Phone",
}


@dataclass(frozen=True)
class OtherReferral:
    referral_id: str
    source: str
    received_at: datetime | None
    status: str
    step: str | None
    open: bool
    episode: bool  # the person's open referral: their current episode
    linked_by: str  # in words


def other_referrals(entries: list[dict[str, Any]], referral_id: str) -> list[OtherReferral]:
    """The person's referrals other than the one on the page, oldest first."""
    return [
        OtherReferral(
            referral_id=str(entry.get("referralId") or ""),
            source=str(entry.get("source") or "unknown"),
            received_at=parse_instant(entry.get("receivedAt")),
            status=str(entry.get("status") or "requested"),
            step=entry.get("businessStatus"),
            open=bool(entry.get("open")),
            episode=bool(entry.get("episode")),
            linked_by=LINKED_BY.get(str(entry.get("linkedBy")), str(entry.get("linkedBy"))),
        )
        for entry in entries
        if entry.get("referralId") != referral_id
    ]


@dataclass(frozen=True)
class PersonSide:
    referral_id: str
    source: str
    received_at: datetime | None
    name: str
    born: str | None
    nhs_number: str | None
    postcode: str
    phone: str


@dataclass(frozen=True)
class PairToDecide:
    review_id: str
    score_percent: int
    fields: list[tuple[str, int]]  # (label, similarity in percent)
    swapped_names: bool
    newer: PersonSide
    older: PersonSide


def _side(entry: dict[str, Any]) -> PersonSide:
    given = " ".join(str(g) for g in entry.get("given") or [])
    return PersonSide(
        referral_id=str(entry.get("referralId") or ""),
        source=str(entry.get("source") or "unknown"),
        received_at=parse_instant(entry.get("receivedAt")),
        name=f"{given} {entry.get('family') or ''}".strip().title() or "Name not given",
        born=entry.get("birthDate"),
        nhs_number=entry.get("nhsNumber"),
        postcode=str(entry.get("postcode") or ""),
        phone=str(entry.get("phone") or ""),
    )


def pair_to_decide(entry: dict[str, Any]) -> PairToDecide:
    fields = entry.get("fields") or {}
    return PairToDecide(
        review_id=str(entry.get("reviewId") or ""),
        score_percent=round(float(entry.get("score") or 0) * 100),
        fields=[
            (label, round(float(fields[name]) * 100))
            for name, label in FIELD_LABELS.items()
            if name in fields
        ],
        swapped_names=bool(entry.get("swappedNames")),
        newer=_side(entry.get("referral") or {}),
        older=_side(entry.get("other") or {}),
    )
