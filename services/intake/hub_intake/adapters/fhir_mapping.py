"""The canonical referral as a self-contained FHIR R4 ServiceRequest (UK Core where it can)."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY, NEED_SNOMED
from hub_intake.domain.referral import Need, Referral

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _telecom(phone: str | None, email: str | None) -> list[dict[str, str]]:
    telecom = []
    if phone:
        telecom.append({"system": "phone", "value": phone})
    if email:
        telecom.append({"system": "email", "value": email})
    return telecom


def agency_identifier(referral: Referral) -> dict[str, str]:
    if referral.referrer.ods_code:
        return {"system": sys.ODS_SYSTEM, "value": referral.referrer.ods_code}
    if referral.referrer.agency_id:
        return {"system": sys.AGENCY_ID_SYSTEM, "value": referral.referrer.agency_id}
    return {
        "system": sys.AGENCY_ID_SYSTEM,
        "value": derived_agency_id(referral.source, referral.referrer.organisation),
    }


def derived_agency_id(source: str, organisation: str) -> str:
    """The hub's id for a non-NHS agency known only by name: `<source>:<name-slug>`.

    An agency's API credential names the same id, so referrals it sends over Kafka and over
    HTTP are recognised as the same organisation's.
    """
    return f"{source}:{re.sub(r'[^a-z0-9]+', '-', organisation.lower()).strip('-')}"


def _patient(referral: Referral) -> dict[str, Any]:
    person = referral.person
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "patient",
        # FHIR JSON forbids empty arrays: a name given only as "Mrs O'Neill" has no `given`.
        "name": [
            {
                "use": "official",
                "family": person.family_name,
                **({"given": list(person.given_names)} if person.given_names else {}),
            }
        ],
        "address": [
            {
                "use": "home",
                **({"line": list(person.address.lines)} if person.address.lines else {}),
                **({"city": person.address.town} if person.address.town else {}),
                "postalCode": person.address.postcode,
                "country": "GB",
            }
        ],
    }
    if person.nhs_number:
        patient["identifier"] = [{"system": sys.NHS_NUMBER_SYSTEM, "value": person.nhs_number}]
    if person.birth_date:
        patient["birthDate"] = person.birth_date.isoformat()
    if telecom := _telecom(person.phone, person.email):
        patient["telecom"] = telecom
    if person.language:
        patient["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": person.language}]},
                "preferred": True,
            }
        ]
    if person.interpreter_needed:
        patient["extension"] = [
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
                "extension": [{"url": "interpreterRequired", "valueBoolean": True}],
            }
        ]
    return patient


def _requester(referral: Referral) -> list[dict[str, Any]]:
    referrer = referral.referrer
    organisation = {
        "resourceType": "Organization",
        "id": "requester-org",
        "identifier": [agency_identifier(referral)],
        "name": referrer.organisation,
        "type": [{"text": referrer.organisation_type}],
    }
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": "requester",
        "organization": {"reference": "#requester-org", "display": referrer.organisation},
    }
    if telecom := _telecom(referrer.phone, referrer.email):
        role["telecom"] = telecom
    contained = [organisation, role]
    if referrer.person_name:
        contained.append(
            {
                "resourceType": "Practitioner",
                "id": "requester-person",
                "name": [{"text": referrer.person_name}],
            }
        )
        role["practitioner"] = {"reference": "#requester-person"}
    return contained


def _consent(referral: Referral) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "resourceType": "Consent",
        "id": "consent",
        "status": "active" if referral.consent.given else "rejected",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "#patient"},
        "performer": [{"reference": "#requester"}],
        # HL7's R4 consent-policy codes are named laws and forms (HIPAA, VA, ELGA...), none
        # of them English: the binding is extensible, so the coding is v3 OPTIN (the person
        # agreed to share), as in HL7's own R4 Consent examples, with the purpose in text.
        "policyRule": {
            "coding": [{"system": V3_ACT_CODE, "code": "OPTIN", "display": "opt-in"}],
            "text": "Consent to share with the social prescribing service",
        },
    }
    if referral.consent.recorded_at:
        consent["dateTime"] = _instant(referral.consent.recorded_at)
    if referral.consent.method:
        # The referrer's own record of how consent was taken, as the attachment's content.
        consent["sourceAttachment"] = {
            "contentType": "text/plain; charset=utf-8",
            "language": "en-GB",
            "data": base64.b64encode(referral.consent.method.encode()).decode(),
            "title": "How consent was recorded",
        }
    return consent


def _risk_flag(referral: Referral) -> dict[str, Any]:
    """A Flag every reader of the request sees: visiting this person carries a risk."""
    return {
        "resourceType": "Flag",
        "id": "risk-to-visitors",
        "status": "active",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "safety",
                    }
                ]
            }
        ],
        "code": {"text": f"Risk to visiting staff: {referral.risk_to_visitors}"},
        "subject": {"reference": "#patient"},
    }


def _reason_code(need: Need) -> dict[str, Any]:
    """A need as one CodeableConcept: the hub's code and, when mapped, the SNOMED CT finding.

    Readers pick the coding by system, so the hub's code stays first and means what it did.
    """
    coding: list[dict[str, str]] = []
    if need.category is not None:
        coding.append(
            {
                "system": NEED_CATEGORY_SYSTEM,
                "code": need.category.value,
                "display": NEED_DISPLAY[need.category],
            }
        )
    if need.snomed_code is not None:
        # The referrer's own SNOMED CT reason, which the hub could not place: kept as sent.
        coding.append({"system": sys.SNOMED, "code": need.snomed_code, "display": need.text})
    elif need.category is not None and (snomed := NEED_SNOMED.get(need.category)) is not None:
        coding.append({"system": sys.SNOMED, "code": snomed.code, "display": snomed.display})
    concept: dict[str, Any] = {"text": need.text}
    if coding:
        concept["coding"] = coding
    return concept


def to_service_request(referral: Referral, referral_id: str, episode_id: str) -> dict[str, Any]:
    """Build the ServiceRequest the hub publishes on `referrals.requested`."""
    reason_codes = [_reason_code(need) for need in referral.needs]
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": referral_id,
        # Version 1; a sender's amendment or cancellation (BaRS) publishes the next. No profile
        # is claimed: UK Core cannot be checked here (docs/bars.md), and an unchecked claim
        # would be trusted by readers who validate nothing themselves.
        "meta": {"versionId": "1"},
        "contained": [_patient(referral), *_requester(referral), _consent(referral)],
        "extension": [
            {"url": sys.EPISODE_EXTENSION_URL, "valueString": episode_id},
            {"url": sys.RISK_EXTENSION_URL, "valueCode": referral.risk_to_visitors},
        ],
        "identifier": [
            {"system": sys.REFERRAL_ID_SYSTEM, "value": referral_id},
            {
                "system": sys.referrer_reference_system(referral.source),
                "value": referral.referrer_reference,
            },
        ],
        "status": "active",
        "intent": "order",
        "priority": referral.priority,
        "code": {
            "coding": [
                {
                    "system": sys.SNOMED,
                    "code": sys.SNOMED_SOCIAL_PRESCRIBING_REFERRAL,
                    "display": "Referral to social prescribing service",
                }
            ]
        },
        "subject": {"reference": "#patient"},
        "authoredOn": _instant(referral.authored_on),
        "requester": {"reference": "#requester"},
        "supportingInfo": [{"reference": "#consent"}],
    }
    if reason_codes:
        request["reasonCode"] = reason_codes
    if referral.risk_to_visitors != "none":
        request["contained"].append(_risk_flag(referral))
        request["supportingInfo"].append({"reference": "#risk-to-visitors"})
    notes = list(referral.notes)
    if referral.risk_notes:
        notes.append(f"Risk to visitors: {referral.risk_notes}")
    if notes:
        request["note"] = [{"text": note} for note in notes]
    return request
