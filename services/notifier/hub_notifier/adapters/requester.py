"""Who referred: the organisation identifier that decides which agency may see a referral."""

from __future__ import annotations

import re
from typing import Any

from hub_common.fhir.refs import contained
from hub_common.fhir.systems import AGENCY_ID_SYSTEM


def requester_key(identifier: dict[str, Any] | None) -> str:
    """`system|value` of the referring organisation's identifier (ODS code or hub agency id)."""
    identifier = identifier or {}
    return f"{identifier.get('system', '')}|{identifier.get('value', '')}"


def _requester_role(request: dict[str, Any]) -> dict[str, Any]:
    return contained(request, request.get("requester", {}).get("reference"))


def service_request_requester(request: dict[str, Any]) -> dict[str, Any]:
    role = _requester_role(request)
    organisation = contained(request, role.get("organization", {}).get("reference"))
    identifier: dict[str, Any] = (organisation.get("identifier") or [{}])[0]
    return identifier


def referrer_email(request: dict[str, Any]) -> str | None:
    """The referrer's (not the person's) e-mail address, where status e-mails go."""
    for telecom in _requester_role(request).get("telecom", []):
        if telecom.get("system") == "email" and telecom.get("value"):
            return str(telecom["value"])
    return None


def postcode_of(request: dict[str, Any]) -> str | None:
    patient = contained(request, request.get("subject", {}).get("reference"))
    return next(
        (str(a["postalCode"]) for a in patient.get("address", []) if a.get("postalCode")), None
    )


def source_of(request: dict[str, Any]) -> str:
    """The inbound source, from the referrer's-reference identifier (ServiceRequest or Task)."""
    for identifier in request.get("identifier", []):
        system = str(identifier.get("system", ""))
        if "/Id/referrer-ref/" in system:
            return system.rsplit("/", 1)[-1]
    return "unknown"


def referrer_reference(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier", []):
        if "/Id/referrer-ref/" in str(identifier.get("system", "")):
            return str(identifier.get("value")) if identifier.get("value") else None
    return None


def rejection_requester(event: dict[str, Any]) -> str:
    """The organisation a rejected referral came from, as `system|value`.

    The rejected event names the sender by name only (`referrerContact.organisation`), so this
    repeats intake's rule for agencies known by name: `<source>:<name-slug>` in the hub's agency
    system (hub_intake.adapters.fhir_mapping.derived_agency_id). An `agency` field, when intake
    provides one, is the authenticated sender and wins.
    """
    if event.get("agency"):
        return str(event["agency"])
    organisation = str((event.get("referrerContact") or {}).get("organisation") or "")
    slug = re.sub(r"[^a-z0-9]+", "-", organisation.lower()).strip("-")
    return f"{AGENCY_ID_SYSTEM}|{event.get('source', '')}:{slug}" if slug else ""
