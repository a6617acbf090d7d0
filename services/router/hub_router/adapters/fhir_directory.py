"""The directory as link workers read it: the published HealthcareService, plus what only the
router knows (live capacity, how the service usually answers), and search results that say
why they match.

Hub extensions (published in schemas/fhir): `service-capacity` and `usual-response` on the
HealthcareService; `match-reason` on each searchset entry's `search`. The distance from the
person's district uses FHIR's own `location-distance` extension on `Bundle.entry.search`.
"""

from __future__ import annotations

from typing import Any

from hub_common.fhir.systems import HUB_BASE
from hub_router.domain.directory_search import Candidate, UsualResponse

CAPACITY_URL = f"{HUB_BASE}/StructureDefinition/service-capacity"
USUAL_RESPONSE_URL = f"{HUB_BASE}/StructureDefinition/usual-response"
MATCH_REASON_URL = f"{HUB_BASE}/StructureDefinition/match-reason"
LOCATION_DISTANCE_URL = "http://hl7.org/fhir/StructureDefinition/location-distance"
UCUM = "http://unitsofmeasure.org"


def _capacity_extension(candidate: Candidate) -> dict[str, Any]:
    capacity = candidate.capacity
    parts: list[dict[str, Any]] = [
        {"url": "availability", "valueCode": capacity.availability.value}
    ]
    if capacity.places is not None:
        parts.append({"url": "placesAvailable", "valueUnsignedInt": capacity.places})
    if capacity.updated_at is not None:
        parts.append({"url": "updated", "valueDateTime": capacity.updated_at.isoformat()})
    return {"url": CAPACITY_URL, "extension": parts}


def _usual_response_extension(usual: UsualResponse) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "answered", "valueUnsignedInt": usual.answered}]
    if usual.median_days_to_answer is not None:
        parts.append({"url": "medianDaysToAnswer", "valueDecimal": usual.median_days_to_answer})
    if usual.share_accepted is not None:
        parts.append({"url": "shareAccepted", "valueDecimal": usual.share_accepted})
    return {"url": USUAL_RESPONSE_URL, "extension": parts}


def service_resource(
    bundle: dict[str, Any], candidate: Candidate, usual: UsualResponse | None
) -> dict[str, Any]:
    """The directory's HealthcareService with the capacity and the usual response added."""
    service = dict(bundle["entry"][0]["resource"])
    mine = {CAPACITY_URL, USUAL_RESPONSE_URL}
    extensions = [e for e in service.get("extension", []) if e.get("url") not in mine]
    extensions.append(_capacity_extension(candidate))
    extensions.append(_usual_response_extension(usual or UsualResponse(0, None, None)))
    service["extension"] = extensions
    return service


def included(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The Organization and Locations the directory published with the service."""
    return [entry["resource"] for entry in bundle["entry"][1:]]


def searchset(
    results: list[tuple[Candidate, dict[str, Any], list[str]]],
    usual: dict[str, UsualResponse],
    base_url: str,
    self_url: str,
    limit: int | None = None,
) -> dict[str, Any]:
    """`GET /fhir/HealthcareService`: matches best first, each with its reasons (and distance),
    then each Organization and Location they reference once (`search.mode: include`).

    `total` is given only when it is known: when fewer than `limit` matched (a full page may
    have more behind it, which the hub does not count)."""
    base = base_url.rstrip("/")
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    extras: list[dict[str, Any]] = []
    for candidate, bundle, why in results:
        search: dict[str, Any] = {"mode": "match"}
        extensions: list[dict[str, Any]] = [
            {"url": MATCH_REASON_URL, "valueString": reason} for reason in why
        ]
        if candidate.distance_km is not None:
            extensions.append(
                {
                    "url": LOCATION_DISTANCE_URL,
                    "valueDistance": {
                        "value": round(candidate.distance_km, 2),
                        "unit": "km",
                        "system": UCUM,
                        "code": "km",
                    },
                }
            )
        if extensions:
            search["extension"] = extensions
        if candidate.text_rank is not None:
            search["score"] = round(min(max(candidate.text_rank, 0.0), 1.0), 4)
        entries.append(
            {
                "fullUrl": f"{base}/fhir/HealthcareService/{candidate.id}",
                "resource": service_resource(bundle, candidate, usual.get(candidate.id)),
                "search": search,
            }
        )
        for resource in included(bundle):
            key = f"{resource['resourceType']}/{resource['id']}"
            if key not in seen:
                seen.add(key)
                extras.append(
                    {
                        "fullUrl": f"{base}/fhir/{key}",
                        "resource": resource,
                        "search": {"mode": "include"},
                    }
                )
    result: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if limit is None or len(results) < limit:
        result["total"] = len(results)
    result["link"] = [{"relation": "self", "url": self_url}]
    if entries:
        result["entry"] = entries + extras
    return result
