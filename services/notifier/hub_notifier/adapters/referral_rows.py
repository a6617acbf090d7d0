"""One referral as a row of the referrals report: from the stored ServiceRequest and Task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_common.fhir.refs import contained
from hub_notifier.adapters.requester import service_request_requester

COLUMNS = (
    "referral_id",
    "received_at",
    "source",
    "referrer_organisation",
    "patient_name",
    "birth_date",
    "status",
    "business_status",
    "owner",
    "last_changed",
)
OWNER_PREFIX = "PractitionerRole/"


def _patient(request: dict[str, Any]) -> dict[str, Any]:
    return contained(request, (request.get("subject") or {}).get("reference"))


def _person_name(patient: dict[str, Any]) -> str:
    name = (patient.get("name") or [{}])[0]
    if name.get("text"):
        return str(name["text"])
    return " ".join(str(part) for part in [*name.get("given", []), name.get("family")] if part)


def _organisation(request: dict[str, Any]) -> str:
    """The referring organisation's name, else its identifier's value."""
    role = contained(request, (request.get("requester") or {}).get("reference"))
    organisation = contained(request, (role.get("organization") or {}).get("reference"))
    return str(organisation.get("name") or service_request_requester(request).get("value") or "")


def _instant(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def referral_row(
    *,
    referral_id: str,
    received_at: datetime | None,
    source: str,
    request: dict[str, Any],
    task: dict[str, Any] | None,
    status: str | None,
    business_status: str | None,
    last_changed: datetime | None,
) -> tuple[str, ...]:
    """The report's columns (COLUMNS) for one referral; a referral not yet routed has no Task."""
    patient = _patient(request)
    owner = str(((task or {}).get("owner") or {}).get("reference") or "")
    return (
        referral_id,
        _instant(received_at),
        source,
        _organisation(request),
        _person_name(patient),
        str(patient.get("birthDate") or ""),
        status or "",
        business_status or "",
        owner.removeprefix(OWNER_PREFIX),
        _instant(last_changed),
    )
