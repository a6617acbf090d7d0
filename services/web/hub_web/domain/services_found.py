"""A directory search answer (the router's HealthcareService searchset) as the "Find a
service" page shows it: each service with why it matches, capacity, how it usually answers,
where and how to reach it. Pure: reads the Bundle, calls nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_common.fhir.systems import HUB_BASE

CAPACITY_URL = f"{HUB_BASE}/StructureDefinition/service-capacity"
USUAL_RESPONSE_URL = f"{HUB_BASE}/StructureDefinition/usual-response"
MATCH_REASON_URL = f"{HUB_BASE}/StructureDefinition/match-reason"
DISTANCE_URL = "http://hl7.org/fhir/StructureDefinition/location-distance"
AVAILABILITY_TEXT = {
    "available": "Places available",
    "full": "Full",
    "waiting-list": "Waiting list",
    "unknown": "Capacity not stated",
}


@dataclass(frozen=True)
class ServiceFound:
    id: str
    name: str
    organisation: str
    description: str | None
    reasons: tuple[str, ...]
    distance_km: float | None
    availability: str  # words for the capacity badge
    places: int | None
    usual: str  # how it usually answers, in words
    addresses: tuple[str, ...]
    contacts: tuple[tuple[str, str], ...]  # (system, value)
    closed: bool


def _parts(extension: dict[str, Any]) -> dict[str, Any]:
    return {
        part["url"]: next(v for k, v in part.items() if k.startswith("value"))
        for part in extension.get("extension", [])
    }


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in resource.get("extension", []) if e.get("url") == url), {})


def _usual(parts: dict[str, Any]) -> str:
    answered = int(parts.get("answered") or 0)
    if not answered:
        return "No referrals answered through the hub yet"
    days, share = parts.get("medianDaysToAnswer"), parts.get("shareAccepted")
    said = [f"{answered} answered"]
    if days is not None:
        said.append(f"usually within {days:g} days")
    if share is not None:
        said.append(f"{round(share * 100)}% accepted")
    return ", ".join(said)


def _address(location: dict[str, Any]) -> str:
    address = location.get("address", {})
    bits = [*address.get("line", []), address.get("city"), address.get("postalCode")]
    text = ", ".join(b for b in bits if b)
    name = location.get("name")
    return f"{name}: {text}" if name and text else name or text


def services_found(bundle: dict[str, Any]) -> list[ServiceFound]:
    """The matches, in the order the router ranked them."""
    entries = bundle.get("entry", [])
    included = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
        for e in entries
        if e.get("search", {}).get("mode") == "include"
    }
    found = []
    for entry in entries:
        if entry.get("search", {}).get("mode") != "match":
            continue
        service, search = entry["resource"], entry["search"]
        capacity = _parts(_extension(service, CAPACITY_URL))
        distance = next(
            (e["valueDistance"]["value"] for e in search.get("extension", [])
             if e.get("url") == DISTANCE_URL),
            None,
        )  # fmt: skip
        organisation = included.get(service.get("providedBy", {}).get("reference", ""), {})
        locations = [
            included.get(ref.get("reference", ""), {}) for ref in service.get("location", [])
        ]
        found.append(
            ServiceFound(
                id=service["id"],
                name=service.get("name", service["id"]),
                organisation=organisation.get("name")
                or service.get("providedBy", {}).get("display", ""),
                description=service.get("comment"),
                reasons=tuple(
                    e["valueString"]
                    for e in search.get("extension", [])
                    if e.get("url") == MATCH_REASON_URL
                ),
                distance_km=distance,
                availability=AVAILABILITY_TEXT.get(
                    capacity.get("availability", "unknown"), "Capacity not stated"
                ),
                places=capacity.get("placesAvailable"),
                usual=_usual(_parts(_extension(service, USUAL_RESPONSE_URL))),
                addresses=tuple(a for a in (_address(loc) for loc in locations if loc) if a),
                contacts=tuple((t["system"], t["value"]) for t in service.get("telecom", [])),
                closed=not service.get("active", True),
            )
        )
    return found
