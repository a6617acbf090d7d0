"""Finding the person a subject access request is about, among the people the hub has linked.

A request names the person by NHS number, by demographics (family name and birth date, and the
postcode where two people share those), or by one of their referrals (the episode the
requester knows of); every key given must agree. The answer is every referral linked to that
person, from every agency. A request that fits more than one person is refused rather than
answered with two people's records: the operator adds a key until it fits one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from hub_notifier.domain.person_match import fold, normalise_postcode
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions


class NoKey(ValueError):
    """The request names neither an NHS number, nor a family name and birth date, nor a referral."""


class SeveralPeople(Exception):
    """The keys fit more than one person."""

    def __init__(self, people: int) -> None:
        super().__init__(f"the keys given fit {people} people: add the postcode or a referral")
        self.people = people


@dataclass(frozen=True)
class SubjectKeys:
    nhs_number: str | None = None
    family: str | None = None
    birth_date: date | None = None
    postcode: str | None = None
    referral_id: str | None = None

    def normalised(self) -> SubjectKeys:
        """The keys as person linking stores them (digits, folded names, compact postcodes)."""
        return SubjectKeys(
            nhs_number=re.sub(r"\D", "", self.nhs_number) if self.nhs_number else None,
            family=fold(self.family) if self.family else None,
            birth_date=self.birth_date,
            postcode=normalise_postcode(self.postcode) if self.postcode else None,
            referral_id=self.referral_id,
        )

    def enough(self) -> bool:
        return bool(self.nhs_number or self.referral_id or (self.family and self.birth_date))


class SubjectFinder:
    def __init__(
        self, sessions: Sessions, units: Callable[[], NotifierUnitOfWork] | None = None
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions))

    async def referrals(self, keys: SubjectKeys) -> list[str]:
        """Every referral of the one person `keys` fit; [] when they fit nobody."""
        keys = keys.normalised()
        if not keys.enough():
            raise NoKey("name the person by nhs-number, by family and birthdate, or by referral")
        unit = self._new_unit()
        async with unit.transaction():
            people = await unit.subjects.people_matching(
                nhs_number=keys.nhs_number,
                family=keys.family,
                birth_date=keys.birth_date,
                postcode=keys.postcode,
                referral_id=keys.referral_id,
            )
            if len(people) > 1:
                raise SeveralPeople(len(people))
            return await unit.subjects.referrals_of(people) if people else []
