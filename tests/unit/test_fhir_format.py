import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM
from hub_common.fhir.needs import NeedCategory as N
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import Reading, UnreadableMessage
from hub_intake.adapters.formats.fhir_bundle import FhirBundleFormat
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
SR = "Bundle.entry[ServiceRequest]"


def example() -> dict[str, Any]:
    return json.loads(inbound("gp-servicerequest-bundle.json"))


def resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def lone_service_request() -> dict[str, Any]:
    """The example as one ServiceRequest carrying its Patient, requester and Consent inside."""
    bundle = example()
    request = resource(bundle, "ServiceRequest")
    contained = []
    for kind, local_id in (("Patient", "pat"), ("PractitionerRole", "role"), ("Consent", "ok")):
        contained.append({**resource(bundle, kind), "id": local_id})
    request.update(
        contained=contained,
        subject={"reference": "#pat"},
        requester={"reference": "#role"},
        supportingInfo=[{"reference": "#ok"}],
    )
    return request


def read(document: Any) -> Reading:
    [reading] = FhirBundleFormat().read(json.dumps(document).encode(), RECEIVED)
    return reading


def errors(reading: Reading) -> set[str]:
    return {issue.field for issue in reading.issues if issue.is_error}


def test_the_example_bundle_is_accepted_with_every_value_carried() -> None:
    reading = read(example())
    assert reading.accepted, reading.issues
    assert reading.issues == []
    referral = reading.referral
    assert referral is not None
    assert (referral.source, referral.referrer_reference) == ("fhir", "H85001-2026-004512")
    person = referral.person
    assert (person.given_names, person.family_name) == (("Jean", "Luc"), "Baptiste")
    assert person.birth_date == date(1968, 2, 29)
    assert person.nhs_number == "9990166137"
    assert (person.address.lines, person.address.town) == (("5 Park Lane",), "Croydon")
    assert person.address.postcode == "CR0 1JA"
    assert (person.phone, person.language) == ("07700 900321", "fr")
    referrer = referral.referrer
    assert (referrer.organisation, referrer.ods_code) == ("Park Lane Surgery", "H85001")
    assert (referrer.person_name, referrer.email) == (
        "Dr Helen Carter",
        "parklane.referrals@nhs.example",
    )
    assert reading.contact.organisation == "Park Lane Surgery"
    assert referral.consent.recorded_at == datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
    assert referral.authored_on == datetime(2026, 11, 23, 10, 2, tzinfo=UTC)
    assert referral.priority == "routine"
    reason = "Bereavement, low mood, socially isolated since losing his mother"
    assert [(n.category, n.text) for n in referral.needs] == [
        (N.BEREAVEMENT, reason),
        (N.MENTAL_WELLBEING, reason),
        (N.LONELINESS_ISOLATION, reason),
    ]
    assert referral.notes == ("Please contact by phone; struggling with rent since stopping work.",)


def test_a_lone_service_request_with_contained_resources_is_accepted() -> None:
    reading = read(lone_service_request())
    assert reading.accepted, reading.issues
    assert reading.referral is not None
    assert reading.referral.referrer.ods_code == "H85001"
    assert reading.referral.person.family_name == "Baptiste"


def test_a_message_bundle_with_relative_references_and_an_organization_requester() -> None:
    bundle = example()
    bundle["type"] = "message"
    request = resource(bundle, "ServiceRequest")
    patient = resource(bundle, "Patient")
    patient["id"] = "p1"
    bundle["entry"][1]["fullUrl"] = "https://gp.example/fhir/Patient/p1"
    request["subject"] = {"reference": "Patient/p1"}
    organisation = {
        "resourceType": "Organization",
        "id": "o1",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "H85002"}
        ],
        "name": "Lane End Pharmacy",
        "telecom": [{"system": "phone", "value": "020 8000 0000"}],
    }
    bundle["entry"][2] = {
        "fullUrl": "https://gp.example/fhir/Organization/o1",
        "resource": organisation,
    }
    request["requester"] = {"reference": "https://gp.example/fhir/Organization/o1"}
    bundle["entry"].insert(
        0, {"fullUrl": "urn:uuid:h", "resource": {"resourceType": "MessageHeader"}}
    )
    reading = read(bundle)
    assert reading.accepted, reading.issues
    referrer = reading.referral.referrer if reading.referral else None
    assert referrer is not None
    assert (referrer.organisation, referrer.ods_code, referrer.phone) == (
        "Lane End Pharmacy",
        "H85002",
        "020 8000 0000",
    )


def test_messy_values_are_read_liberally() -> None:
    bundle = example()
    patient = resource(bundle, "Patient")
    patient["address"][0]["postalCode"] = " cr0  1ja "
    patient["name"] = [{"use": "official", "text": "Mr Jean Luc Baptiste"}]
    patient["extension"] = [
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
            "extension": [{"url": "interpreterRequired", "valueBoolean": True}],
        }
    ]
    request = resource(bundle, "ServiceRequest")
    request["priority"] = "ASAP"
    request["reasonCode"] = [
        {
            "coding": [{"system": NEED_CATEGORY_SYSTEM, "code": "carer-support"}],
            "text": "Cares for wife",
        },
        {"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": "Food bank"}]},
    ]
    reading = read(bundle)
    assert reading.accepted, reading.issues
    referral = reading.referral
    assert referral is not None
    assert referral.person.address.postcode == "CR0 1JA"
    assert (referral.person.given_names, referral.person.family_name) == (
        ("Jean", "Luc"),
        "Baptiste",
    )
    assert referral.person.interpreter_needed
    assert referral.priority == "urgent"
    assert [(n.category, n.text) for n in referral.needs] == [
        (N.CARER_SUPPORT, "Cares for wife"),
        (N.FOOD_INSECURITY, "Food bank"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(birthDate="1968"), "Patient.birthDate"),
        (lambda p: p["identifier"][0].update(value="9990166138"), "Patient.identifier[nhs-number]"),
        (lambda p: p.update(communication=[{"language": {"text": "French"}}]), None),
    ],
)
def test_partial_dates_and_bad_nhs_numbers_are_warnings(change: Any, field: str | None) -> None:
    bundle = example()
    change(resource(bundle, "Patient"))
    reading = read(bundle)
    assert reading.accepted and reading.referral is not None
    assert [i.field for i in reading.issues] == ([field] if field else [])
    assert all(i.severity == "warning" for i in reading.issues)


def test_the_priority_is_carried_and_an_unknown_one_is_a_warning() -> None:
    bundle = example()
    resource(bundle, "ServiceRequest")["priority"] = "urgent"
    assert (read(bundle).referral or pytest.fail()).priority == "urgent"
    resource(bundle, "ServiceRequest")["priority"] = "whenever"
    reading = read(bundle)
    assert reading.accepted and reading.referral is not None
    assert reading.referral.priority == "routine"
    assert [(i.field, i.severity) for i in reading.issues] == [(f"{SR}.priority", "warning")]


def _without_consent(bundle: dict[str, Any]) -> None:
    bundle["entry"] = bundle["entry"][:3]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (_without_consent, {f"{SR}.supportingInfo"}),
        (lambda b: resource(b, "Consent").update(status="rejected"), {"Consent.status"}),
        (
            lambda b: resource(b, "Consent").update(provision={"type": "deny"}),
            {"Consent.provision.type"},
        ),
        (lambda b: resource(b, "ServiceRequest").pop("identifier"), {f"{SR}.identifier"}),
        (lambda b: resource(b, "ServiceRequest").update(status="revoked"), {f"{SR}.status"}),
        (
            lambda b: resource(b, "ServiceRequest").update(subject={"reference": "urn:uuid:x"}),
            {f"{SR}.subject"},
        ),
        (lambda b: resource(b, "ServiceRequest").pop("requester"), {f"{SR}.requester"}),
        (
            lambda b: resource(b, "Patient")["address"][0].update(postalCode="M1 1AE"),
            {"Patient.address.postalCode"},
        ),
        (
            lambda b: resource(b, "Patient").update(name=[{"given": ["Jean"]}]),
            {"Patient.name.family"},
        ),
        (
            lambda b: resource(b, "Patient").update(
                telecom=[], address=[{"postalCode": "CR0 1JA"}]
            ),
            {"Patient.telecom"},
        ),
        (lambda b: resource(b, "Patient").update(birthDate="2030-01-01"), {"Patient.birthDate"}),
        (lambda b: b.update(type="searchset"), {"Bundle.type"}),
        (lambda b: b["entry"].pop(0), {"Bundle.entry"}),
    ],
)
def test_a_bad_bundle_is_refused_naming_the_field(change: Any, fields: set[str]) -> None:
    bundle = example()
    change(bundle)
    reading = read(bundle)
    assert not reading.accepted and reading.referral is None
    assert errors(reading) == fields


def test_a_refusal_can_still_be_told_to_the_requester() -> None:
    bundle = example()
    _without_consent(bundle)
    reading = read(bundle)
    assert reading.referrer_reference == "H85001-2026-004512"
    assert reading.contact.email == "parklane.referrals@nhs.example"
    assert reading.contact.name == "Dr Helen Carter"


def test_a_lone_service_request_names_its_own_fields() -> None:
    request = lone_service_request()
    del request["identifier"]
    request["contained"] = [r for r in request["contained"] if r["resourceType"] != "Consent"]
    assert errors(read(request)) == {"ServiceRequest.identifier", "ServiceRequest.supportingInfo"}


@pytest.mark.parametrize(
    "body",
    [
        b"<Bundle/>",
        b"[]",
        json.dumps({"resourceType": "Patient"}).encode(),
        json.dumps({"entry": []}).encode(),
    ],
)
def test_what_is_not_a_bundle_or_service_request_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        FhirBundleFormat().read(body, RECEIVED)


@pytest.mark.parametrize("document", [example(), lone_service_request()])
def test_the_service_request_is_valid_fhir_r4_with_the_ods_code(document: dict[str, Any]) -> None:
    referral = read(copy.deepcopy(document)).referral
    assert referral is not None
    request = to_service_request(referral, "ref-1", "ep-1")
    ServiceRequest.model_validate(request)
    assert {i["value"] for i in request["identifier"]} == {"ref-1", "H85001-2026-004512"}
    organisation = next(r for r in request["contained"] if r["resourceType"] == "Organization")
    assert organisation["identifier"] == [
        {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "H85001"}
    ]
    patient = next(r for r in request["contained"] if r["resourceType"] == "Patient")
    assert patient["identifier"] == [
        {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990166137"}
    ]
    assert request["reasonCode"][0]["coding"][0]["code"] == "bereavement"
