"""Finding the right community service for a person: what a search asks, and why a service
matches it.

Pure: the adapter (`adapters/directory_store.py`) turns `SearchCriteria` into SQL and hands
back `Candidate`s; `reasons` then says, in words a link worker reads, which of the asked
conditions each one meets, so a result is never a bare list.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hub_common.fhir.needs import NEED_DISPLAY, NeedCategory

DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


class Availability(StrEnum):
    """What a service's live capacity says now (`Capacity.availability`)."""

    AVAILABLE = "available"  # places set, and at least one free
    FULL = "full"  # places set, none free
    WAITING_LIST = "waiting-list"  # the organisation takes names on a waiting list
    UNKNOWN = "unknown"  # the organisation never said


class CapacityKind(StrEnum):
    """How an organisation states its capacity: a number of places, or a waiting list."""

    PLACES = "places"
    WAITING_LIST = "waiting-list"


@dataclass(frozen=True)
class Capacity:
    """A service's live capacity as its organisation last set it (none: never set)."""

    kind: CapacityKind | None = None
    places: int | None = None
    updated_at: datetime | None = None

    @property
    def availability(self) -> Availability:
        if self.kind is CapacityKind.WAITING_LIST:
            return Availability.WAITING_LIST
        if self.kind is CapacityKind.PLACES:
            return Availability.AVAILABLE if (self.places or 0) > 0 else Availability.FULL
        return Availability.UNKNOWN


class CapacityRefused(ValueError):
    """A capacity an organisation may not set (the message names the field)."""


def new_capacity(kind: CapacityKind, places: int | None, at: datetime) -> Capacity:
    """Places need a number of free places (0 or more); a waiting list takes none."""
    if kind is CapacityKind.PLACES:
        if places is None or places < 0:
            raise CapacityRefused("placesAvailable: give 0 or more free places")
        return Capacity(kind, places, at)
    if places is not None:
        raise CapacityRefused("placesAvailable: a waiting list has no number of places")
    return Capacity(kind, None, at)


@dataclass(frozen=True)
class SearchCriteria:
    """What a link worker asks for. Every condition given must hold (empty: not asked).

    Within one condition, any value matches: `needs` any of them, `days` open on at least one
    of them, `availability` any of those states.
    """

    needs: frozenset[NeedCategory] = frozenset()
    terms: frozenset[str] = frozenset()  # taxonomy "system|code" or code alone
    text: str | None = None
    origin_district: str | None = None
    origin: tuple[float, float] | None = None  # the district's centroid
    within_km: float | None = None
    days: frozenset[str] = frozenset()
    free: bool | None = None
    age: int | None = None
    availability: frozenset[Availability] = frozenset()
    limit: int = 50


class Answer(StrEnum):
    """How an onward referral to a service was decided."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_RESPONSE = "no-response"  # declined by the hub at the deadline: nobody answered


@dataclass(frozen=True)
class UsualResponse:
    """How a service has answered the hub's onward referrals so far: how many it answered,
    the median days it took (over those whose answer time is known), and the share accepted
    of all decided (a referral left unanswered to its deadline counts as not accepted)."""

    answered: int
    median_days_to_answer: float | None
    share_accepted: float | None


def usual_response(decided: Iterable[tuple[float | None, Answer]]) -> UsualResponse:
    """From (days from sending to the answer, when known; the answer) per decided referral."""
    rows = list(decided)
    if not rows:
        return UsualResponse(0, None, None)
    answered = [(days, answer) for days, answer in rows if answer is not Answer.NO_RESPONSE]
    days = [d for d, _ in answered if d is not None]
    accepted = sum(1 for _, answer in rows if answer is Answer.ACCEPTED)
    return UsualResponse(
        len(answered),
        round(statistics.median(days), 1) if days else None,
        round(accepted / len(rows), 2),
    )


@dataclass(frozen=True)
class Candidate:
    """A service the store found, with what the reasons need to know about it."""

    id: str
    needs: frozenset[str]
    terms: frozenset[str]
    days: frozenset[str]
    free: bool
    minimum_age: int | None
    maximum_age: int | None
    capacity: Capacity = field(default_factory=Capacity)
    distance_km: float | None = None
    text_rank: float | None = None


def reasons(candidate: Candidate, criteria: SearchCriteria) -> list[str]:
    """Why the candidate matches, one sentence per condition asked (none when nothing was)."""
    said: list[str] = []
    met = sorted(n for n in criteria.needs if n.value in candidate.needs)
    if met:
        said.append("Meets the need: " + ", ".join(NEED_DISPLAY[n] for n in met))
    if criteria.terms & candidate.terms:
        said.append("Service type: " + ", ".join(sorted(criteria.terms & candidate.terms)))
    if criteria.text:
        said.append(f"Name or description matches \u201c{criteria.text}\u201d")
    if candidate.distance_km is not None and criteria.origin_district:
        said.append(f"{candidate.distance_km:.1f} km from the centre of {criteria.origin_district}")
    open_days = [DAY_NAMES[d] for d in DAY_NAMES if d in criteria.days and d in candidate.days]
    if open_days:
        said.append("Open on " + ", ".join(open_days))
    if criteria.free is not None:
        said.append("Free of charge" if candidate.free else "A charge applies")
    if criteria.age is not None:
        said.append(f"Takes people aged {criteria.age} ({age_range(candidate)})")
    if criteria.availability:
        said.append(capacity_phrase(candidate.capacity))
    return said


def age_range(candidate: Candidate) -> str:
    low, high = candidate.minimum_age, candidate.maximum_age
    if low is None and high is None:
        return "any age"
    if high is None:
        return f"{low} and over"
    if low is None:
        return f"up to {high}"
    return f"{low} to {high}"


def capacity_phrase(capacity: Capacity) -> str:
    availability = capacity.availability
    if availability is Availability.AVAILABLE:
        return f"{capacity.places} place{'s' if capacity.places != 1 else ''} available"
    if availability is Availability.FULL:
        return "No places free now"
    if availability is Availability.WAITING_LIST:
        return "Taking names on a waiting list"
    return "Capacity not stated by the organisation"


def parse_days(values: Sequence[str]) -> frozenset[str]:
    """FHIR days-of-week codes from `mon,tue`; ValueError naming a code that is not a day."""
    days = {v.strip().lower() for value in values for v in value.split(",") if v.strip()}
    unknown = sorted(days - DAY_NAMES.keys())
    if unknown:
        raise ValueError(f"not a day of the week: {', '.join(unknown)} (use mon … sun)")
    return frozenset(days)
