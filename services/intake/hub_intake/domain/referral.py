"""The canonical referral, independent of any agency's format and of FHIR's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from hub_common.fhir.needs import NeedCategory

RiskLevel = Literal["none", "low", "medium", "high"]


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    postcode: str  # normalised: upper case, one space
    town: str | None = None


@dataclass(frozen=True)
class Person:
    """The person being referred."""

    given_names: tuple[str, ...]
    family_name: str
    birth_date: date | None
    address: Address
    phone: str | None = None
    email: str | None = None
    nhs_number: str | None = None  # only when it passed the Modulus 11 check
    language: str | None = None  # BCP 47
    interpreter_needed: bool = False


@dataclass(frozen=True)
class Referrer:
    """The agency and the person in it who referred, and how to reach them."""

    organisation: str
    organisation_type: str
    agency_id: str | None = None  # hub-assigned identifier for non-NHS agencies
    ods_code: str | None = None
    person_name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Consent:
    given: bool
    recorded_at: datetime | None = None
    method: str | None = None


@dataclass(frozen=True)
class Need:
    category: NeedCategory | None  # None: the referrer's words did not map to a category
    text: str
    # A SNOMED CT reason the referrer sent that names no hub category, kept as sent.
    snomed_code: str | None = None


@dataclass(frozen=True)
class Referral:
    """One referral as the hub understands it, whatever format it arrived in."""

    source: str
    referrer_reference: str
    person: Person
    referrer: Referrer
    consent: Consent
    needs: tuple[Need, ...]
    authored_on: datetime
    priority: Literal["routine", "urgent"] = "routine"
    risk_to_visitors: RiskLevel = "none"
    risk_notes: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def risk_flagged(self) -> bool:
        return self.risk_to_visitors in ("medium", "high")
