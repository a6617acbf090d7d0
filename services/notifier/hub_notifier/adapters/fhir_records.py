"""The notifier's own records as FHIR R4, for a subject access export.

Three kinds of record the notifier keeps are not FHIR resources already: a delivery (a webhook,
Kafka message or e-mail sent about a referral) becomes a `Communication`; an audit entry (who
read or changed the referral) an `AuditEvent`; the demographics kept to link the person's
referrals a `Patient` whose id is the referral's it came from. Each carries what the row holds
and nothing more.
"""

from __future__ import annotations

import base64
from typing import Any

from hub_common.fhir.systems import NHS_NUMBER_SYSTEM, REFERRAL_ID_SYSTEM

COMMUNICATION_STATUS = {"delivered": "completed", "dead": "stopped", "pending": "in-progress"}
AUDIT_EVENT_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
# C create, R read/view, U update, E execute: an export is an operation run on the records.
AUDIT_ACTION = {"create": "C", "read": "R", "update": "U", "export": "E"}


def _referral(referral_id: str) -> dict[str, Any]:
    return {"identifier": {"system": REFERRAL_ID_SYSTEM, "value": referral_id}}


def delivery_communication(row: Any) -> dict[str, Any]:
    """A delivery: to whom (the subscription or the e-mail address), when, what was sent."""
    recipient = row.target or f"subscription {row.subscription_id}"
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": row.delivery_id,
        "status": COMMUNICATION_STATUS.get(row.status, "unknown"),
        "category": [{"text": row.kind}],
        "medium": [{"text": row.channel}],
        "about": [_referral(row.referral_id)],
        "recipient": [{"display": recipient}],
        "payload": [
            {
                "contentAttachment": {
                    "contentType": "application/octet-stream",
                    "data": base64.b64encode(bytes(row.body)).decode("ascii"),
                }
            }
        ],
    }
    if row.delivered_at is not None:
        resource["sent"] = row.delivered_at.isoformat()
    if row.status == "dead" and row.last_error:
        resource["statusReason"] = {"text": row.last_error}
    return resource


def _outcome(outcome: str) -> str:
    """0 success, 4 minor failure (refused: 4xx), 8 serious failure (5xx)."""
    if outcome.isdigit():
        return "0" if outcome.startswith(("2", "3")) else "4" if outcome.startswith("4") else "8"
    return "0"


def audit_event(row: Any, referral_ids: set[str]) -> dict[str, Any]:
    """An audit entry: who (role, subject, organisation), what (ids), when, from where."""
    agent: dict[str, Any] = {
        "who": {"identifier": {"value": row.actor_subject}},
        "requestor": True,
        "role": [{"text": row.actor_role}],
    }
    if row.peer:
        agent["network"] = {"address": row.peer, "type": "2"}
    agents = [agent]
    if row.actor_organisation:
        system, _, value = row.actor_organisation.partition("|")
        identifier = {"system": system, "value": value} if value else {"value": system}
        agents.append(
            {"who": {"identifier": identifier}, "requestor": False, "role": [{"text": "org"}]}
        )
    return {
        "resourceType": "AuditEvent",
        "id": row.event_id,
        "type": AUDIT_EVENT_TYPE,
        "action": AUDIT_ACTION.get(row.action, "E"),
        "recorded": row.at.isoformat(),
        "outcome": _outcome(row.outcome),
        "outcomeDesc": f"{row.method} {row.route}: {row.outcome}",
        "agent": agents,
        "source": {"site": row.service, "observer": {"display": f"referral hub {row.service}"}},
        "entity": [
            {
                "what": _referral(i) if i in referral_ids else {"identifier": {"value": i}},
                "description": row.resource_type,
            }
            for i in row.resource_ids
        ],
    }


def person_record_patient(row: Any) -> dict[str, Any]:
    """The demographics kept, normalised, to link this referral to the person's others."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": row.referral_id}
    if row.nhs_number:
        patient["identifier"] = [{"system": NHS_NUMBER_SYSTEM, "value": row.nhs_number}]
    name = {k: v for k, v in (("family", row.family), ("given", [g for g in row.given if g])) if v}
    if name:
        patient["name"] = [name]
    if row.phone:
        patient["telecom"] = [{"system": "phone", "value": row.phone}]
    if row.birth_date:
        patient["birthDate"] = row.birth_date.isoformat()
    if row.postcode:
        patient["address"] = [{"postalCode": row.postcode}]
    return patient
