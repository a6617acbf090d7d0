"""The community services directory: its domain shape and its wire shape on `directory.services`.

Each message on the compacted topic is one service, keyed by its directory id, valued by a FHIR
R4 Bundle of type `collection`: the HealthcareService first, then its Organization and its
Locations. A tombstone (null value) means the service was withdrawn. `to_bundle` writes that
shape and `read_bundle` reads it back, so any service can keep the directory from the topic.

Elements R4 has no place for travel as hub extensions (published under schemas/fhir/):
the eligible age range (`eligible-age`) and each cost option (`cost-option`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY, NeedCategory
from hub_common.fhir.systems import HUB_BASE
from hub_common.region.service_area import borough_of

SERVICE_ID_SYSTEM = f"{HUB_BASE}/Id/directory-service"
ORGANISATION_ID_SYSTEM = f"{HUB_BASE}/Id/directory-organisation"
LOCATION_ID_SYSTEM = f"{HUB_BASE}/Id/directory-location"
SERVICE_COST_SYSTEM = f"{HUB_BASE}/CodeSystem/service-cost"
ELIGIBLE_AGE_URL = f"{HUB_BASE}/StructureDefinition/eligible-age"
COST_OPTION_URL = f"{HUB_BASE}/StructureDefinition/cost-option"
VOCABULARY_SYSTEM_BASE = f"{HUB_BASE}/CodeSystem/oruk-vocabulary/"
UCUM = "http://unitsofmeasure.org"
TEMPORARILY_CLOSED = "Temporarily closed."

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""FHIR `days-of-week` codes, Monday first."""

COST_DISPLAY = {"free": "Free of charge", "charged": "A charge applies"}

NEED_CODES = frozenset(need.value for need in NeedCategory)

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def fhir_id(kind: str, directory_id: str) -> str:
    """The resource id for a directory id: itself when FHIR allows it, else a stable UUID."""
    if _FHIR_ID.match(directory_id):
        return directory_id
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{HUB_BASE}/{kind}/{directory_id}"))


@dataclass(frozen=True)
class Organisation:
    """The provider that runs a service."""

    id: str
    name: str
    url: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Place:
    """Where a service is delivered (an ORUK location)."""

    id: str
    name: str | None = None
    description: str | None = None
    address_lines: tuple[str, ...] = ()
    city: str | None = None
    postcode: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Opening:
    """A weekly opening: the days, and the hours (HH:MM:SS) when given."""

    days: tuple[str, ...]
    opens: str | None = None
    closes: str | None = None


@dataclass(frozen=True)
class CostOption:
    """One price of a service (an ORUK cost option); amount 0 means free."""

    option: str | None = None
    amount: float | None = None
    currency: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ContactPoint:
    """A way to reach the service: `system` is phone, email or url (FHIR ContactPoint)."""

    system: str
    value: str


@dataclass(frozen=True)
class Term:
    """A taxonomy term as the directory gave it: the vocabulary's system, the code, its name."""

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class DirectoryService:
    """One community service, as the hub keeps it."""

    id: str
    name: str
    organisation: Organisation
    feed: str
    description: str | None = None
    temporarily_closed: bool = False
    places: tuple[Place, ...] = ()
    openings: tuple[Opening, ...] = ()
    schedule_notes: tuple[str, ...] = ()
    minimum_age: int | None = None
    maximum_age: int | None = None
    eligibility: tuple[str, ...] = ()
    costs: tuple[CostOption, ...] = ()
    contacts: tuple[ContactPoint, ...] = ()
    terms: tuple[Term, ...] = ()
    needs: frozenset[NeedCategory] = field(default_factory=frozenset)
    last_modified: datetime | None = None

    @property
    def free(self) -> bool:
        """No cost option asks for money (a directory lists prices only where there are some)."""
        return not any((cost.amount or 0) > 0 for cost in self.costs) and not any(
            cost.amount is None and (cost.option or cost.description) for cost in self.costs
        )


# Which of the hub's need categories a taxonomy term speaks to, by words in its name. Checked
# in order; a term can meet several needs (e.g. "Debt and housing advice").
NEED_WORDS: tuple[tuple[NeedCategory, tuple[str, ...]], ...] = (
    (NeedCategory.FOOD_INSECURITY, ("food bank", "food parcel", "pantry", "community fridge",
                                    "free meal", "food aid", "soup kitchen")),
    (NeedCategory.HEALTHY_EATING, ("healthy eating", "nutrition", "cooking", "weight management",
                                   "diet")),
    (NeedCategory.LONELINESS_ISOLATION, ("lonel", "isolat", "befriend", "social group",
                                         "social activit", "friendship", "lunch club",
                                         "community group", "peer support")),
    (NeedCategory.MENTAL_WELLBEING, ("mental", "wellbeing", "well-being", "anxiety",
                                     "depression", "stress", "counselling", "talking therap",
                                     "mindfulness", "arts", "creative")),
    (NeedCategory.BEREAVEMENT, ("bereave", "grief", "loss of a loved")),
    (NeedCategory.HOUSING, ("housing", "homeless", "tenan", "accommodation", "home repair",
                            "house clearance")),
    (NeedCategory.MONEY_DEBT_BENEFITS, ("debt", "benefit", "money", "financ", "welfare",
                                        "budget", "income", "grant")),
    (NeedCategory.EMPLOYMENT_EDUCATION, ("employ", "job", "career", "skills", "training",
                                         "education", "learning", "volunteer", "english language",
                                         "esol")),
    (NeedCategory.PHYSICAL_ACTIVITY, ("sport", "exercise", "physical activit", "walking",
                                      "fitness", "gardening", "swimming", "dance", "yoga",
                                      "cycling")),
    (NeedCategory.CARER_SUPPORT, ("carer", "caring for")),
    (NeedCategory.DIGITAL_INCLUSION, ("digital", "computer", "internet", "online skills",
                                      "device", "get online")),
    (NeedCategory.HOARDING, ("hoard", "clutter")),
    (NeedCategory.SAFEGUARDING_CONCERN, ("safeguard", "domestic abuse", "domestic violence",
                                         "abuse", "exploitation")),
)  # fmt: skip


def needs_for_terms(terms: Iterable[Term]) -> frozenset[NeedCategory]:
    """The hub's need categories the terms speak to: a term coded in the hub's own need
    system counts as given; any other term counts by the words of its name."""
    found: set[NeedCategory] = set()
    for term in terms:
        if term.system == NEED_CATEGORY_SYSTEM and term.code in NEED_CODES:
            found.add(NeedCategory(term.code))
            continue
        name = (term.display or "").lower()
        found.update(need for need, words in NEED_WORDS if any(w in name for w in words))
    return frozenset(found)


def vocabulary_system(vocabulary: str) -> str:
    """A Coding system for a vocabulary a feed names without a URI (e.g. `esdServiceTypes`)."""
    if re.match(r"^(https?|urn):", vocabulary):
        return vocabulary
    slug = re.sub(r"[^a-z0-9]+", "-", vocabulary.lower()).strip("-") or "unnamed"
    return f"{VOCABULARY_SYSTEM_BASE}{slug}"


# ---------------------------------------------------------------------------------------------
# Domain -> FHIR


def _drop_empty(resource: dict[str, Any]) -> dict[str, Any]:
    """FHIR forbids empty strings, arrays and objects: leave such elements out."""
    return {key: value for key, value in resource.items() if value not in (None, "", [], {})}


def _age(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "years", "system": UCUM, "code": "a"}


def _cost_extension(cost: CostOption) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if cost.option:
        parts.append({"url": "option", "valueString": cost.option})
    if cost.amount is not None:
        money: dict[str, Any] = {"value": cost.amount}
        if cost.currency:
            money["currency"] = cost.currency
        parts.append({"url": "amount", "valueMoney": money})
    if cost.description:
        parts.append({"url": "description", "valueString": cost.description})
    return {"url": COST_OPTION_URL, "extension": parts}


def _organization(organisation: Organisation) -> dict[str, Any]:
    telecom = [
        {"system": system, "value": value}
        for system, value in (("url", organisation.url), ("email", organisation.email))
        if value
    ]
    return _drop_empty(
        {
            "resourceType": "Organization",
            "id": fhir_id("Organization", organisation.id),
            "identifier": [{"system": ORGANISATION_ID_SYSTEM, "value": organisation.id}],
            "active": True,
            "name": organisation.name,
            "telecom": telecom,
        }
    )


def _location(place: Place) -> dict[str, Any]:
    address: dict[str, Any] = {}
    if place.address_lines or place.city or place.postcode:
        address = _drop_empty(
            {
                "line": list(place.address_lines),
                "city": place.city,
                "district": borough_of(place.postcode) if place.postcode else None,
                "postalCode": place.postcode,
                "country": "GB",
            }
        )
    position = None
    if place.latitude is not None and place.longitude is not None:
        position = {"latitude": place.latitude, "longitude": place.longitude}
    return _drop_empty(
        {
            "resourceType": "Location",
            "id": fhir_id("Location", place.id),
            "identifier": [{"system": LOCATION_ID_SYSTEM, "value": place.id}],
            "status": "active",
            "name": place.name,
            "description": place.description,
            "address": address,
            "position": position,
        }
    )


def to_healthcare_service(service: DirectoryService) -> dict[str, Any]:
    """The service as a FHIR R4 HealthcareService (references its Organization and Locations)."""
    extensions: list[dict[str, Any]] = []
    if service.minimum_age is not None or service.maximum_age is not None:
        age_range: dict[str, Any] = {}
        if service.minimum_age is not None:
            age_range["low"] = _age(service.minimum_age)
        if service.maximum_age is not None:
            age_range["high"] = _age(service.maximum_age)
        extensions.append({"url": ELIGIBLE_AGE_URL, "valueRange": age_range})
    extensions.extend(_cost_extension(cost) for cost in service.costs)
    cost_code = "free" if service.free else "charged"
    notes = list(service.schedule_notes)
    if service.temporarily_closed:
        notes.insert(0, TEMPORARILY_CLOSED)
    meta: dict[str, Any] = {"source": service.feed}
    if service.last_modified is not None:
        meta["lastUpdated"] = service.last_modified.isoformat()
    organisation = service.organisation
    return _drop_empty(
        {
            "resourceType": "HealthcareService",
            "id": fhir_id("HealthcareService", service.id),
            "meta": meta,
            "extension": extensions,
            "identifier": [{"system": SERVICE_ID_SYSTEM, "value": service.id}],
            "active": not service.temporarily_closed,
            "providedBy": {
                "reference": f"Organization/{fhir_id('Organization', organisation.id)}",
                "display": organisation.name,
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": NEED_CATEGORY_SYSTEM,
                            "code": need.value,
                            "display": NEED_DISPLAY[need],
                        }
                    ]
                }
                for need in sorted(service.needs)
            ],
            "type": [
                {
                    "coding": [
                        _drop_empty({"system": t.system, "code": t.code, "display": t.display})
                    ]
                }
                for t in service.terms
            ],
            "location": [
                _drop_empty(
                    {"reference": f"Location/{fhir_id('Location', p.id)}", "display": p.name}
                )
                for p in service.places
            ],
            "name": service.name,
            "comment": service.description,
            "telecom": [{"system": c.system, "value": c.value} for c in service.contacts],
            "characteristic": [
                {
                    "coding": [
                        {
                            "system": SERVICE_COST_SYSTEM,
                            "code": cost_code,
                            "display": COST_DISPLAY[cost_code],
                        }
                    ]
                }
            ],
            "eligibility": [{"comment": text} for text in service.eligibility],
            "availableTime": [
                _drop_empty(
                    {
                        "daysOfWeek": list(o.days),
                        "availableStartTime": o.opens,
                        "availableEndTime": o.closes,
                    }
                )
                for o in service.openings
            ],
            "availabilityExceptions": " ".join(notes),
        }
    )


def to_bundle(service: DirectoryService) -> dict[str, Any]:
    """The message value on `directory.services`: HealthcareService, Organization, Locations."""
    resources = [
        to_healthcare_service(service),
        _organization(service.organisation),
        *(_location(place) for place in service.places),
    ]
    return {
        "resourceType": "Bundle",
        "id": fhir_id("HealthcareService", service.id),
        "type": "collection",
        "entry": [
            {"fullUrl": f"{HUB_BASE}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }


# ---------------------------------------------------------------------------------------------
# FHIR -> domain


class NotADirectoryEntry(ValueError):
    """A message on the directory topic that is not a service Bundle of the hub's shape."""


def _identifier(resource: dict[str, Any], system: str) -> str:
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == system and identifier.get("value"):
            return str(identifier["value"])
    raise NotADirectoryEntry(f"{resource.get('resourceType')}.identifier: no {system} value")


def _codings(concepts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [coding for concept in concepts for coding in concept.get("coding", [])]


def _read_cost(extension: dict[str, Any]) -> CostOption:
    parts = {part["url"]: part for part in extension.get("extension", [])}
    money = parts.get("amount", {}).get("valueMoney", {})
    return CostOption(
        option=parts.get("option", {}).get("valueString"),
        amount=money.get("value"),
        currency=money.get("currency"),
        description=parts.get("description", {}).get("valueString"),
    )


def _read_place(location: dict[str, Any]) -> Place:
    address = location.get("address", {})
    position = location.get("position", {})
    return Place(
        id=_identifier(location, LOCATION_ID_SYSTEM),
        name=location.get("name"),
        description=location.get("description"),
        address_lines=tuple(address.get("line", [])),
        city=address.get("city"),
        postcode=address.get("postalCode"),
        latitude=position.get("latitude"),
        longitude=position.get("longitude"),
    )


def read_bundle(bundle: dict[str, Any]) -> DirectoryService:
    """A `directory.services` message value back as the domain object (inverse of to_bundle)."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "collection":
        raise NotADirectoryEntry("expected a Bundle of type collection")
    resources = [entry.get("resource", {}) for entry in bundle.get("entry", [])]
    if not resources or resources[0].get("resourceType") != "HealthcareService":
        raise NotADirectoryEntry("Bundle.entry[0]: expected the HealthcareService")
    service = resources[0]
    by_reference = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources[1:]}
    organization = by_reference.get(service.get("providedBy", {}).get("reference", ""))
    if organization is None:
        raise NotADirectoryEntry("HealthcareService.providedBy: no such Organization in the Bundle")
    telecom = {t["system"]: t["value"] for t in organization.get("telecom", [])}
    places = []
    for reference in service.get("location", []):
        location = by_reference.get(reference.get("reference", ""))
        if location is None:
            raise NotADirectoryEntry(f"HealthcareService.location: {reference} not in the Bundle")
        places.append(_read_place(location))
    minimum = maximum = None
    costs = []
    for extension in service.get("extension", []):
        if extension.get("url") == ELIGIBLE_AGE_URL:
            minimum = extension["valueRange"].get("low", {}).get("value")
            maximum = extension["valueRange"].get("high", {}).get("value")
        elif extension.get("url") == COST_OPTION_URL:
            costs.append(_read_cost(extension))
    notes = service.get("availabilityExceptions", "")
    closed = not service.get("active", True)
    if closed and notes.startswith(TEMPORARILY_CLOSED):
        notes = notes[len(TEMPORARILY_CLOSED) :].lstrip()
    updated = service.get("meta", {}).get("lastUpdated")
    return DirectoryService(
        id=_identifier(service, SERVICE_ID_SYSTEM),
        name=service.get("name", ""),
        organisation=Organisation(
            id=_identifier(organization, ORGANISATION_ID_SYSTEM),
            name=organization.get("name", ""),
            url=telecom.get("url"),
            email=telecom.get("email"),
        ),
        feed=service.get("meta", {}).get("source", ""),
        description=service.get("comment"),
        temporarily_closed=closed,
        places=tuple(places),
        openings=tuple(
            Opening(
                days=tuple(t.get("daysOfWeek", [])),
                opens=t.get("availableStartTime"),
                closes=t.get("availableEndTime"),
            )
            for t in service.get("availableTime", [])
        ),
        schedule_notes=(notes,) if notes else (),
        minimum_age=minimum,
        maximum_age=maximum,
        eligibility=tuple(e["comment"] for e in service.get("eligibility", []) if "comment" in e),
        costs=tuple(costs),
        contacts=tuple(ContactPoint(t["system"], t["value"]) for t in service.get("telecom", [])),
        terms=tuple(
            Term(c["system"], c["code"], c.get("display"))
            for c in _codings(service.get("type", []))
        ),
        needs=frozenset(
            NeedCategory(c["code"])
            for c in _codings(service.get("category", []))
            if c.get("system") == NEED_CATEGORY_SYSTEM and c.get("code") in NEED_CODES
        ),
        last_modified=datetime.fromisoformat(updated) if updated else None,
    )
