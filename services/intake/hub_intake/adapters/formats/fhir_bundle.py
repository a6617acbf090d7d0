"""NHS systems: a FHIR R4 Bundle holding one ServiceRequest, or a lone ServiceRequest.

The parts the hub reads are gathered into a plain "view" keyed by FHIRPath-like names
(`Patient.address.postalCode`), so FieldReader's issues name the field in FHIR's own terms.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_SNOMED, SNOMED_NEED, NeedCategory
from hub_common.fhir.outcome import Issue
from hub_common.fhir.systems import NHS_NUMBER_SYSTEM, ODS_SYSTEM, SNOMED
from hub_intake.adapters.formats import bars
from hub_intake.adapters.formats import fhir_resources as fr
from hub_intake.adapters.formats.base import (
    EXAMPLES,
    SCHEMAS,
    Reading,
    ReferrerContact,
    UnreadableMessage,
)
from hub_intake.adapters.formats.json_body import json_object
from hub_intake.adapters.formats.names import split_full_name
from hub_intake.adapters.formats.reading import FieldReader
from hub_intake.adapters.formats.requirements import require_way_to_reach
from hub_intake.adapters.formats.versions import SchemaVersions
from hub_intake.domain.need_words import needs_in
from hub_intake.domain.referral import Address, Consent, Need, Person, Referral

BUNDLE_TYPES = ("transaction", "collection", "message")
Priority = Literal["routine", "urgent"]
PRIORITIES: dict[str, Priority] = {
    "routine": "routine",
    "urgent": "urgent",
    "asap": "urgent",
    "stat": "urgent",
}
_CATEGORY_CODES = frozenset(category.value for category in NeedCategory)
_PARTIAL_DATE = re.compile(r"[0-9]{4}(-[0-9]{2})?")  # FHIR allows birthDate 1968 or 1968-02


class FhirBundleFormat:
    source = "fhir"
    json_schema_file = SCHEMAS / "fhir.schema.json"
    example_file = EXAMPLES / "gp-servicerequest-bundle.json"
    # FHIR resources do not name their FHIR release: this format is R4 by its topic and route.
    versions: SchemaVersions | None = None

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        document = json_object(body)
        if bars.is_message(document):  # a BaRS message: its header first, then as below
            return bars.read_message(document, received_at, _read_document)
        return _read_document(document, received_at)


def read_process_message(body: bytes, received_at: datetime) -> list[Reading]:
    """A body POSTed to `$process-message`: only a BaRS message Bundle will do."""
    document = json_object(body)
    if document.get("resourceType") != "Bundle" or document.get("type") != "message":
        raise UnreadableMessage(
            "$process-message takes a FHIR Bundle of type message whose first entry is a "
            "MessageHeader",
            field="Bundle.type",
        )
    return bars.read_message(document, received_at, _read_document)


def _read_document(document: dict[str, Any], received_at: datetime) -> list[Reading]:
    """A Bundle or a lone ServiceRequest, as one Reading."""
    issues: list[Issue] = []
    if document.get("resourceType") == "Bundle":
        request, entries = _bundle_request(document, issues)
        root = "Bundle.entry[ServiceRequest]"
    elif document.get("resourceType") == "ServiceRequest":
        request, entries, root = document, [], "ServiceRequest"
    else:
        raise UnreadableMessage("expected a FHIR Bundle or ServiceRequest resource")
    if request is None:
        return [Reading(None, document, ReferrerContact(), issues=issues)]
    resources = fr.ResourceSet(entries, fr.objects(request.get("contained")))
    return [_read_request(document, request, resources, root, issues, received_at)]


def _bundle_request(
    bundle: dict[str, Any], issues: list[Issue]
) -> tuple[fr.Resource | None, list[tuple[Any, fr.Resource]]]:
    """The Bundle's one ServiceRequest, and every entry as (fullUrl, resource)."""
    if bundle.get("type") not in BUNDLE_TYPES:
        issues.append(Issue("Bundle.type", f"expected one of {', '.join(BUNDLE_TYPES)}"))
    entries = [
        (entry.get("fullUrl"), entry["resource"])
        for entry in fr.objects(bundle.get("entry"))
        if isinstance(entry.get("resource"), dict)
    ]
    requests = [r for _, r in entries if r.get("resourceType") == "ServiceRequest"]
    if len(requests) != 1:
        issues.append(
            Issue(
                "Bundle.entry",
                f"expected one ServiceRequest, found {len(requests)}",
                code="structure",
            )
        )
        return None, entries
    return requests[0], entries


def _read_request(
    document: dict[str, Any],
    request: fr.Resource,
    resources: fr.ResourceSet,
    root: str,
    issues: list[Issue],
    received_at: datetime,
) -> Reading:
    patient = resources.resolve(request.get("subject"))
    if patient is not None and patient.get("resourceType") != "Patient":
        patient = None
    consent = _consent(request, resources)
    view: dict[str, Any] = {
        "Patient": _patient_view(patient or {}, issues),
        "Consent": _consent_view(consent or {}),
    }
    first_identifier = (fr.objects(request.get("identifier")) or [{}])[0]
    request_view = {
        "identifier": first_identifier.get("value"),
        "status": request.get("status"),
        "priority": request.get("priority"),
        "authoredOn": request.get("authoredOn"),
        "requester": _requester_view(request.get("requester"), resources),
    }
    head, _, tail = root.partition(".")
    view[head] = {tail: request_view} if tail else request_view
    f = FieldReader(view, issues)

    contact, ods_code = _requester(f, f"{root}.requester")
    reference = f.required_text(f"{root}.identifier", "an identifier (the referrer's reference)")
    reading = Reading(reference, document, contact, issues=issues)
    status = f.text(f"{root}.status")
    if status not in (None, "active"):
        issues.append(Issue(f"{root}.status", "only an active ServiceRequest can be accepted"))
    priority = _priority(f, f"{root}.priority")
    authored_on = f.moment(f"{root}.authoredOn") or received_at

    person = _person(f, received_at) if patient is not None else None
    if patient is None:
        issues.append(
            Issue(
                f"{root}.subject",
                "must reference the Patient: a Bundle entry's fullUrl or a contained #id",
                code="required",
            )
        )
    if contact.organisation is None:
        issues.append(
            Issue(f"{root}.requester", "the requesting organisation is required", code="required")
        )
    require_way_to_reach(
        issues, f"{root}.requester", "the requester (email or phone)", contact.email, contact.phone
    )
    recorded_at = _consent_time(f, root, consent)
    needs = _needs(request.get("reasonCode"), f"{root}.reasonCode", issues)
    notes = [note["text"].strip() for note in fr.objects(request.get("note")) if _text(note)]

    if reference is None or any(issue.is_error for issue in issues):
        return reading
    assert person and contact.organisation  # guaranteed by the checks above
    reading.referral = Referral(
        source="fhir",
        referrer_reference=reference,
        person=person,
        referrer=contact.referrer(contact.organisation, "nhs", ods_code),
        consent=Consent(given=True, recorded_at=recorded_at, method="FHIR Consent"),
        needs=tuple(needs),
        authored_on=authored_on,
        priority=priority,
        notes=tuple(notes),
    )
    return reading


def _text(element: fr.Resource) -> bool:
    return isinstance(element.get("text"), str) and bool(element["text"].strip())


def _patient_view(patient: fr.Resource, issues: list[Issue]) -> dict[str, Any]:
    name = fr.preferred(patient.get("name"), ("official", "usual"))
    address = fr.preferred(patient.get("address"), ("home",))
    telecom = patient.get("telecom")
    birth_date = patient.get("birthDate")
    if isinstance(birth_date, str) and _PARTIAL_DATE.fullmatch(birth_date.strip()):
        issues.append(
            Issue("Patient.birthDate", "a partial birth date is not carried", severity="warning")
        )
        birth_date = None
    communication = fr.preferred(patient.get("communication"), ())
    language = (fr.objects(communication.get("language")) or [{}])[0]
    # UK Core puts interpreterRequired in NHSCommunication, on Patient or its communication.
    interpreter = fr.extension_value(patient.get("extension"), "interpreterRequired")
    if interpreter is None:
        interpreter = fr.extension_value(communication.get("extension"), "interpreterRequired")
    return {
        "name": {
            "family": name.get("family"),
            "given": fr.words(name.get("given")),
            "text": name.get("text"),
        },
        "birthDate": birth_date,
        "address": {
            "line": fr.words(address.get("line"), ", "),
            "city": address.get("city"),
            "postalCode": address.get("postalCode"),
        },
        "telecom[phone]": fr.telecom_value(telecom, "phone", "sms"),
        "telecom[email]": fr.telecom_value(telecom, "email"),
        "identifier[nhs-number]": fr.identifier_value(patient.get("identifier"), NHS_NUMBER_SYSTEM),
        "communication": {
            "language": next((c.get("code") for c in fr.objects(language.get("coding"))), None),
            "extension[interpreterRequired]": interpreter,
        },
    }


def _person(f: FieldReader, received_at: datetime) -> Person | None:
    name = _name(f)
    postcode = f.postcode("Patient.address.postalCode")
    line, city = f.text("Patient.address.line"), f.text("Patient.address.city")
    phone, email = f.text("Patient.telecom[phone]"), f.text("Patient.telecom[email]")
    require_way_to_reach(
        f.issues, "Patient.telecom", "the patient (phone, email or address)", phone, email, line
    )
    birth_date = f.birth_date("Patient.birthDate", received_at.date())
    nhs_number = f.nhs_number("Patient.identifier[nhs-number]")
    language = f.language("Patient.communication.language")
    interpreter = f.flag("Patient.communication.extension[interpreterRequired]")
    if name is None or postcode is None:
        return None
    return Person(
        given_names=name[0],
        family_name=name[1],
        birth_date=birth_date,
        address=Address(lines=(line,) if line else (), postcode=postcode, town=city),
        phone=phone,
        email=email,
        nhs_number=nhs_number,
        language=language,
        interpreter_needed=interpreter or False,
    )


def _name(f: FieldReader) -> tuple[tuple[str, ...], str] | None:
    family, given = f.text("Patient.name.family"), f.text("Patient.name.given")
    if family:
        return tuple(given.split()) if given else (), family
    # Some systems send only HumanName.text; read it as fire services' names are read.
    text = f.text("Patient.name.text")
    if name := split_full_name(text or ""):
        return name
    f.required_text("Patient.name.family", "the patient's family name")
    return None


def _requester_view(reference: Any, resources: fr.ResourceSet) -> dict[str, Any]:
    """The requesting organisation and person, from a PractitionerRole, Organization or both."""
    target = resources.resolve(reference) or {}
    kind = target.get("resourceType")
    role = target if kind == "PractitionerRole" else {}
    # A Reference may name the organisation itself, with a display and an ODS identifier:
    # the role's `organization`, or a requester that points at nothing in the message.
    org_reference = role.get("organization") if role else None if target else reference
    org_reference = org_reference if isinstance(org_reference, dict) else {}
    organisation = target if kind == "Organization" else resources.resolve(org_reference) or {}
    person = target if kind == "Practitioner" else resources.resolve(role.get("practitioner"))
    person = person or {}
    practitioner = role.get("practitioner")
    telecoms = [role.get("telecom"), person.get("telecom"), organisation.get("telecom")]
    return {
        "organization": organisation.get("name") or org_reference.get("display"),
        "ods": fr.identifier_value(organisation.get("identifier"), ODS_SYSTEM)
        or fr.identifier_value(org_reference.get("identifier"), ODS_SYSTEM),
        "practitioner": fr.human_name(person.get("name"))
        or (practitioner.get("display") if isinstance(practitioner, dict) else None),
        "telecom[email]": next(
            filter(None, (fr.telecom_value(t, "email") for t in telecoms)), None
        ),
        "telecom[phone]": next(
            filter(None, (fr.telecom_value(t, "phone") for t in telecoms)), None
        ),
    }


def _requester(f: FieldReader, path: str) -> tuple[ReferrerContact, str | None]:
    """Who to tell about the referral, and the organisation's ODS code."""
    ods_code = f.text(f"{path}.ods")
    contact = ReferrerContact(
        organisation=f.text(f"{path}.organization") or ods_code,
        name=f.text(f"{path}.practitioner"),
        email=f.text(f"{path}.telecom[email]"),
        phone=f.text(f"{path}.telecom[phone]"),
    )
    return contact, ods_code


def _priority(f: FieldReader, path: str) -> Priority:
    """routine or urgent; asap and stat are more urgent still, so they are urgent here."""
    value = f.text(path)
    if value is None:
        return "routine"
    if value.lower() not in PRIORITIES:
        f.issues.append(Issue(path, "unknown priority; routine assumed", severity="warning"))
    return PRIORITIES.get(value.lower(), "routine")


def _consent(request: fr.Resource, resources: fr.ResourceSet) -> fr.Resource | None:
    """The Consent the ServiceRequest points at, else any in the message; an active one first."""
    pointed = [resources.resolve(info) for info in fr.objects(request.get("supportingInfo"))]
    consents = [r for r in pointed if r and r.get("resourceType") == "Consent"]
    consents = consents or resources.of_type("Consent")
    return next((c for c in consents if c.get("status") == "active"), None) or next(
        iter(consents), None
    )


def _consent_view(consent: fr.Resource) -> dict[str, Any]:
    provision = (fr.objects(consent.get("provision")) or [{}])[0]
    return {
        "status": consent.get("status"),
        "dateTime": consent.get("dateTime"),
        "provision": {"type": provision.get("type")},
    }


def _consent_time(f: FieldReader, root: str, consent: fr.Resource | None) -> datetime | None:
    """When consent was recorded; an error unless an active Consent permits sharing."""
    if consent is None:
        f.issues.append(
            Issue(
                f"{root}.supportingInfo",
                "recorded consent to share is required: an active Consent",
                code="required",
            )
        )
        return None
    if f.text("Consent.status") != "active":
        f.issues.append(Issue("Consent.status", "consent to share must be active", code="value"))
    if f.text("Consent.provision.type") == "deny":
        f.issues.append(Issue("Consent.provision.type", "the Consent denies sharing", code="value"))
    return f.moment("Consent.dateTime")


def _needs(value: Any, path: str, issues: list[Issue]) -> list[Need]:
    """Reasons as needs: the hub's codes or mapped SNOMED CT codes when sent, else the words.

    A SNOMED CT reason the hub cannot place is kept, code and words, with a warning naming
    the coding: refusing a GP's referral for one code would leave the person without help.
    """
    needs: list[Need] = []
    for index, concept in enumerate(fr.objects(value)):
        codings = fr.objects(concept.get("coding"))
        snomed = _codes(codings, SNOMED)
        categories = [
            NeedCategory(c) for c in _codes(codings, NEED_CATEGORY_SYSTEM) if c in _CATEGORY_CODES
        ]
        categories += [SNOMED_NEED[code] for code in snomed if code in SNOMED_NEED]
        categories = list(dict.fromkeys(categories))  # the hub's own code first, once each
        mapped_words = next((NEED_SNOMED[c].display for c in categories if c in NEED_SNOMED), None)
        words = (
            _words(concept.get("text"))
            or next(filter(None, (_words(c.get("display")) for c in codings)), None)
            or mapped_words
            or next(filter(None, (_words(c.get("code")) for c in codings)), None)
        )
        if words is None:
            issues.append(Issue(path, "a reason without text was left out", severity="warning"))
            continue
        if categories:
            needs += [Need(category, words) for category in categories]
            continue
        sent = snomed[0] if snomed else None
        if sent is not None:
            issues.append(
                Issue(
                    f"{path}[{index}].coding",
                    f"SNOMED CT {sent} names no need category the hub knows, so the reason is"
                    " kept as the referrer's words; understood SNOMED CT codes: "
                    + ", ".join(f"{c.code} {c.display}" for c in NEED_SNOMED.values())
                    + f", or a code of {NEED_CATEGORY_SYSTEM}",
                    severity="warning",
                    code="code-invalid",
                )
            )
        needs += [replace(need, snomed_code=sent) for need in needs_in(words)]
    return needs


def _codes(codings: list[fr.Resource], system: str) -> list[str]:
    """The codes of `system`, only strings (a list must not reach a dict lookup)."""
    return [
        c["code"].strip()
        for c in codings
        if c.get("system") == system and isinstance(c.get("code"), str) and c["code"].strip()
    ]


def _words(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
