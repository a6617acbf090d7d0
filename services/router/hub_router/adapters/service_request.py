"""Reading the canonical ServiceRequest (published by intake) for what routing needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NeedCategory
from hub_common.fhir.refs import contained
from hub_common.region.service_area import borough_of, district_of
from hub_router.domain.model import ReferralToRoute

INTERPRETER_EXT = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication"


@dataclass(frozen=True)
class ReferralFacts:
    """The routing view plus the ids a Task must carry (no personal data)."""

    route: ReferralToRoute
    requester: dict[str, Any]  # Reference to the referring organisation, by identifier
    referrer_identifier: dict[str, Any]
    authored_on: str | None


def _extension(resource: dict[str, Any], url: str) -> Any:
    for ext in resource.get("extension", []):
        if ext.get("url") == url:
            return next((v for k, v in ext.items() if k.startswith("value")), None)
    return None


def read_service_request(request: dict[str, Any]) -> ReferralFacts:
    """Raises ValueError naming the element when the request cannot be routed."""
    if request.get("resourceType") != "ServiceRequest":
        raise ValueError("resourceType: expected ServiceRequest")
    referral_id = request.get("id")
    if not referral_id:
        raise ValueError("ServiceRequest.id is required")
    patient = contained(request, request.get("subject", {}).get("reference"))
    postcode = next(
        (a.get("postalCode") for a in patient.get("address", []) if a.get("postalCode")), None
    )
    if not postcode:
        raise ValueError("ServiceRequest.subject: the contained Patient has no postcode")
    needs = frozenset(
        NeedCategory(coding["code"])
        for concept in request.get("reasonCode", [])
        for coding in concept.get("coding", [])
        if coding.get("system") == NEED_CATEGORY_SYSTEM
        and coding.get("code") in NeedCategory._value2member_map_
    )
    language = next(
        (
            coding.get("code")
            for comm in patient.get("communication", [])
            for coding in comm.get("language", {}).get("coding", [])
        ),
        None,
    )
    interpreter = any(
        sub.get("url") == "interpreterRequired" and sub.get("valueBoolean")
        for ext in patient.get("extension", [])
        if ext.get("url") == INTERPRETER_EXT
        for sub in ext.get("extension", [])
    )
    risk = _extension(request, sys.RISK_EXTENSION_URL) or "none"
    role = contained(request, request.get("requester", {}).get("reference"))
    organisation = contained(request, role.get("organization", {}).get("reference")) if role else {}
    org_identifier = (organisation.get("identifier") or [{}])[0]
    referrer_identifier: dict[str, Any] = next(
        (
            i
            for i in request.get("identifier", [])
            if str(i.get("system", "")).startswith(sys.referrer_reference_system(""))
        ),
        {},
    )
    return ReferralFacts(
        route=ReferralToRoute(
            referral_id=str(referral_id),
            episode_id=str(_extension(request, sys.EPISODE_EXTENSION_URL) or referral_id),
            district=district_of(postcode),
            borough=borough_of(postcode),
            needs=needs,
            language=language,
            interpreter_needed=interpreter,
            risk_flagged=risk in ("medium", "high"),
        ),
        requester={
            "type": "Organization",
            "identifier": org_identifier,
            "display": organisation.get("name"),
        },
        referrer_identifier=referrer_identifier,
        authored_on=request.get("authoredOn"),
    )


def referral_and_episode(request: dict[str, Any]) -> tuple[str, str]:
    """A ServiceRequest's referral id and episode id (its own id when it names none): what a
    restriction of processing is recorded against (hub_common.privacy.data_protection)."""
    referral_id = str(request.get("id") or "")
    return referral_id, str(_extension(request, sys.EPISODE_EXTENSION_URL) or referral_id)
