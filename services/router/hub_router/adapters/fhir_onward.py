"""An onward referral in FHIR R4: the ServiceRequest the organisation reads, and its Task.

The ServiceRequest carries only what the organisation needs to take the person on: their name
and how to reach them (as the link worker chose to share them), the need, the worker's note,
and the person's consent to share as a contained Consent. It is `basedOn` the original referral
and its `performer` is the organisation. The Task names the person by episode id only (like
every hub Task), is owned by the organisation and is `partOf` the link worker's Task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY
from hub_common.region.directory import ORGANISATION_ID_SYSTEM, SERVICE_ID_SYSTEM
from hub_router.adapters.fhir_task import BUSINESS_STATUS_SYSTEM, EPISODE_ID_SYSTEM
from hub_router.domain.onward import OnwardReferral

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


@dataclass(frozen=True)
class PersonToShare:
    """What of the person the organisation is given: a name and at least one way to reach them."""

    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ConsentToShare:
    """The person agreed to their details going to this organisation: when, and how."""

    recorded_at: datetime
    method: str  # e.g. "verbal", "written"


def _organisation(onward: OnwardReferral) -> dict[str, Any]:
    return {
        "type": "Organization",
        "identifier": {"system": ORGANISATION_ID_SYSTEM, "value": onward.organisation_id},
        "display": onward.organisation_name,
    }


def _worker(onward: OnwardReferral) -> dict[str, Any]:
    return {
        "type": "PractitionerRole",
        "identifier": {"system": sys.LINK_WORKER_ID_SYSTEM, "value": onward.sent_by},
    }


def onward_service_request(
    onward: OnwardReferral,
    person: PersonToShare,
    consent: ConsentToShare,
    note: str | None,
) -> dict[str, Any]:
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", person.phone), ("email", person.email))
        if value
    ]
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "person",
        "name": [{"text": person.name}],
    }
    if telecom:
        patient["telecom"] = telecom
    consent_resource = {
        "resourceType": "Consent",
        "id": "consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "#person"},
        "dateTime": consent.recorded_at.isoformat(timespec="seconds"),
        "performer": [_worker(onward)],
        "policyRule": {
            "coding": [{"system": V3_ACT_CODE, "code": "OPTIN", "display": "opt-in"}],
            "text": f"Consent to share with {onward.organisation_name} ({consent.method})",
        },
    }
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": onward.onward_id,
        "contained": [patient, consent_resource],
        "basedOn": [{"reference": f"ServiceRequest/{onward.referral_id}"}],
        "status": "active",
        "intent": "order",
        "code": {"text": onward.service_name},
        "subject": {"reference": "#person"},
        "authoredOn": onward.sent_at.isoformat(),
        "requester": _worker(onward),
        "performer": [
            _organisation(onward),
            {
                "type": "HealthcareService",
                "identifier": {"system": SERVICE_ID_SYSTEM, "value": onward.service_id},
                "display": onward.service_name,
            },
        ],
        "reasonCode": [
            {
                "coding": [
                    {
                        "system": NEED_CATEGORY_SYSTEM,
                        "code": onward.need.value,
                        "display": NEED_DISPLAY[onward.need],
                    }
                ],
                "text": NEED_DISPLAY[onward.need],
            }
        ],
        "supportingInfo": [{"reference": "#consent"}],
    }
    if note:
        request["note"] = [{"text": note}]
    return request


def onward_task(onward: OnwardReferral, episode_id: str, now: datetime) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": onward.onward_id,
        "meta": {"versionId": str(onward.version), "lastUpdated": now.isoformat()},
        "basedOn": [{"reference": f"ServiceRequest/{onward.referral_id}"}],
        "partOf": [{"reference": f"Task/{onward.referral_id}"}],
        "status": onward.status.value,
        "businessStatus": {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": onward.step.value}],
            "text": onward.step.value,
        },
        "intent": "order",
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]
        },
        "focus": {"reference": f"ServiceRequest/{onward.onward_id}"},
        "for": {
            "type": "Patient",
            "identifier": {"system": EPISODE_ID_SYSTEM, "value": episode_id},
        },
        "authoredOn": onward.sent_at.isoformat(),
        "lastModified": now.isoformat(),
        "requester": _worker(onward),
        "owner": _organisation(onward),
        # Answer by: an unanswered onward referral is declined by the hub at this moment.
        "restriction": {"period": {"end": onward.due_at.isoformat()}},
    }
    if onward.reason:
        task["statusReason"] = {"text": onward.reason}
    return task
