"""The referral's FHIR Task snapshot (HL7 Gravity SDOH referral Task pattern)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM
from hub_common.fhir.task_outputs import Outcomes, task_output_parts
from hub_router.domain.onward import connected_services
from hub_router.domain.task_status import BusinessStatus

BUSINESS_STATUS_SYSTEM = f"{sys.HUB_BASE}/CodeSystem/task-business-status"
ROUTING_INPUT_SYSTEM = f"{sys.HUB_BASE}/CodeSystem/routing-input"
EPISODE_ID_SYSTEM = f"{sys.HUB_BASE}/Id/episode"


def task_snapshot(
    *,
    referral_id: str,
    episode_id: str,
    version: int,
    status: str,
    business_status: str,
    owner: str | None,
    requester: dict[str, Any],
    referrer_identifier: dict[str, Any],
    authored_on: str | None,
    last_modified: datetime,
    status_reason: str | None = None,
    outcomes: Outcomes | None = None,
    offer_expires_at: datetime | None = None,
    referral_version: int = 1,
) -> dict[str, Any]:
    """A Task that names people only by id: safe to publish and to notify. Its outcomes
    (hub_common.fhir.task_outputs) are contained resources about the same episode identifier.
    While an offer awaits its answer, `restriction.period.end` is its deadline: when the
    offer passes to the next worker, so the worker can see how long they have.

    A Task connected to services says how many in its businessStatus text ("connected to 2
    services"): the referrer reads that, never which services or organisations."""
    subject = {"type": "Patient", "identifier": {"system": EPISODE_ID_SYSTEM, "value": episode_id}}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": referral_id,
        "meta": {"versionId": str(version), "lastUpdated": last_modified.isoformat()},
        "identifier": [{"system": sys.REFERRAL_ID_SYSTEM, "value": referral_id}]
        + ([referrer_identifier] if referrer_identifier else []),
        "status": status,
        "businessStatus": {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": business_status}],
            "text": business_status_text(business_status, outcomes),
        },
        "intent": "order",
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]
        },
        "focus": {"reference": f"ServiceRequest/{referral_id}"},
        "for": subject,
        "requester": requester,
        "lastModified": last_modified.isoformat(),
    }
    if authored_on:
        task["authoredOn"] = authored_on
    if owner:
        task["owner"] = {"reference": f"PractitionerRole/{owner}"}
    if offer_expires_at is not None:
        task["restriction"] = {"period": {"end": offer_expires_at.isoformat()}}
    if status_reason:
        task["statusReason"] = {"text": status_reason}
    if referral_version > 1:  # amended by its referrer: say so to whoever holds it
        task["note"] = [
            {
                "text": f"The referrer amended the referral: ServiceRequest version "
                f"{referral_version}"
            }
        ]
    if outcomes:
        contained, output = task_output_parts(outcomes, subject)
        if contained:  # FHIR forbids empty arrays
            task["contained"] = contained
        if output:
            task["output"] = output
    return task


def business_status_text(business_status: str, outcomes: Outcomes | None) -> str:
    """The step in words: its code, or "connected to N services" once there are some."""
    connected = connected_services(outcomes)
    if business_status == BusinessStatus.CONNECTED_TO_SERVICES and connected:
        return f"connected to {connected} service{'' if connected == 1 else 's'}"
    return business_status


def with_routing_inputs(task: dict[str, Any], route: dict[str, Any] | None) -> dict[str, Any]:
    """The Task as link workers and coordinators read it: plus `input`, what matters for
    taking the referral on (needs, language, interpreter, risk to visitors, area). Never
    published: referrers and the topic get the plain snapshot."""
    if not route:
        return task

    def entry(kind: str, **value: Any) -> dict[str, Any]:
        return {"type": {"coding": [{"system": ROUTING_INPUT_SYSTEM, "code": kind}]}, **value}

    inputs = [
        entry(
            "need",
            valueCodeableConcept={"coding": [{"system": NEED_CATEGORY_SYSTEM, "code": need}]},
        )
        for need in route.get("needs", ())
    ]
    if route.get("language"):
        inputs.append(entry("language", valueCode=route["language"]))
    inputs.append(entry("interpreter-needed", valueBoolean=bool(route.get("interpreter_needed"))))
    inputs.append(entry("risk-to-visitors", valueBoolean=bool(route.get("risk_flagged"))))
    if route.get("district"):
        inputs.append(entry("postcode-district", valueString=route["district"]))
    if route.get("borough"):
        inputs.append(entry("borough", valueString=route["borough"]))
    return {**task, "input": inputs}
