import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from hub_common.fhir.needs import NeedCategory as N
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import Reading, UnreadableMessage
from hub_intake.adapters.formats.police import PoliceFormat
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def example() -> dict[str, Any]:
    return json.loads(inbound("police-vulnerability-referral.json"))


def read(document: Any) -> Reading:
    [reading] = PoliceFormat().read(json.dumps(document).encode(), RECEIVED)
    return reading


def errors(reading: Reading) -> set[str]:
    return {issue.field for issue in reading.issues if issue.is_error}


def test_the_example_is_accepted_with_every_value_carried() -> None:
    reading = read(example())
    assert reading.accepted, reading.issues
    assert reading.issues == []
    referral = reading.referral
    assert referral is not None
    assert (referral.source, referral.referrer_reference) == ("police", "CAD-4412-23NOV26")
    person = referral.person
    assert (person.given_names, person.family_name) == (("Colin", "James"), "Hargreaves")
    assert person.birth_date == date(1961, 4, 12)
    assert person.nhs_number == "9995260182"
    assert (person.address.lines, person.address.town) == (("14 Wellesley Road",), "Croydon")
    assert person.address.postcode == "CR0 2AB"
    assert (person.language, person.interpreter_needed) == ("en", False)
    referrer = referral.referrer
    assert (referrer.organisation, referrer.organisation_type) == (
        "Metropolitan Police Service",
        "police",
    )
    assert referrer.person_name == "PC Dana Okafor"
    assert referrer.email == "dana.okafor@met.police.example"
    assert referral.risk_to_visitors == "medium" and referral.risk_flagged
    assert referral.risk_notes == "Two dogs at the property; house heavily cluttered."
    assert referral.consent.method == "verbal"
    assert referral.consent.recorded_at == datetime(2026, 11, 23, 9, 20, tzinfo=UTC)
    assert referral.authored_on == datetime(2026, 11, 23, 9, 12, tzinfo=UTC)
    assert [(n.category, n.text) for n in referral.needs] == [
        (N.LONELINESS_ISOLATION, "social_isolation"),
        (N.MENTAL_WELLBEING, "mental_health"),
        (N.HOARDING, "hoarding"),
        (N.MONEY_DEBT_BENEFITS, "financial_hardship"),
    ]
    assert referral.notes[0] == "Vulnerability factors: lives alone, recent bereavement"
    assert referral.notes[1].startswith("Called by neighbours.")


def test_messy_values_are_read_liberally() -> None:
    document = example()
    document["subject"].update(
        surname="  Hargreaves ",
        date_of_birth="12/04/1961",
        nhs_number="999-526-0182",
        needs_interpreter="Yes",
        preferred_language="pl",
    )
    document["subject"]["address"]["postcode"] = " cr0  2ab "
    document["risk_to_visitors"] = " HIGH "
    document["consent"]["given"] = "Y"
    document["reported_at"] = "23/11/2026"
    document["concerns"] = ["substance_use", "domestic_abuse", "Bereavement"]
    reading = read(document)
    assert reading.accepted, reading.issues
    referral = reading.referral
    assert referral is not None
    assert referral.person.family_name == "Hargreaves"
    assert referral.person.birth_date == date(1961, 4, 12)
    assert referral.person.address.postcode == "CR0 2AB"
    assert referral.person.interpreter_needed and referral.person.language == "pl"
    assert referral.risk_to_visitors == "high"
    assert referral.authored_on == datetime(2026, 11, 23, tzinfo=UTC)
    assert [(n.category, n.text) for n in referral.needs] == [
        (None, "substance_use"),  # no category: kept as the force's words
        (N.SAFEGUARDING_CONCERN, "domestic_abuse"),
        (N.BEREAVEMENT, "Bereavement"),
    ]


def test_a_missing_risk_means_none_and_the_optional_parts_may_be_absent() -> None:
    document = example()
    for key in ("risk_to_visitors", "risk_notes", "concerns", "vulnerability_factors"):
        del document[key]
    document["subject"].update(forenames=None, date_of_birth="", nhs_number=None)
    reading = read(document)
    assert reading.accepted, reading.issues
    assert reading.referral is not None
    assert reading.referral.risk_to_visitors == "none" and not reading.referral.risk_flagged
    assert reading.referral.person.given_names == ()
    assert reading.referral.needs == ()


def test_an_unknown_risk_level_is_refused_naming_the_field() -> None:
    document = example()
    document["risk_to_visitors"] = "severe"
    reading = read(document)
    assert not reading.accepted
    assert errors(reading) == {"risk_to_visitors"}
    [issue] = reading.issues
    assert "none, low, medium, high" in issue.message


def test_every_missing_requirement_is_named_and_the_officer_can_still_be_told() -> None:
    document = example()
    document["force"] = "  "
    del document["force_code"]
    document["subject"].update(surname="", phone=None)
    document["subject"]["address"] = {"line1": "", "postcode": "M1 1AE"}
    document["officer"].update(phone="")
    document["consent"]["given"] = False
    reading = read(document)
    assert not reading.accepted and reading.referral is None
    assert errors(reading) == {
        "force",
        "subject.surname",
        "subject.address.postcode",
        "subject",
        "consent.given",
    }
    assert reading.referrer_reference == "CAD-4412-23NOV26"
    assert reading.contact.email == "dana.okafor@met.police.example"
    postcode = next(i for i in reading.issues if i.field == "subject.address.postcode")
    assert "outside the service area 'South West London'" in postcode.message


def test_an_officer_who_cannot_be_reached_is_named() -> None:
    document = example()
    document["officer"].update(email=None, phone=" ")
    assert errors(read(document)) == {"officer"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("consent"), "consent"),
        (lambda d: d["consent"].update(given="maybe"), "consent.given"),
        (lambda d: d.pop("occurrence_ref"), "occurrence_ref"),
        (lambda d: d["subject"].update(date_of_birth="31/02/1961"), "subject.date_of_birth"),
        (lambda d: d["subject"].update(date_of_birth="2027-01-01"), "subject.date_of_birth"),
        (lambda d: d.update(reported_at="last Tuesday"), "reported_at"),
        (lambda d: d["consent"].update(recorded_at="soon"), "consent.recorded_at"),
        (lambda d: d.update(concerns={"a": 1}), "concerns"),
        (lambda d: d["subject"].update(surname=["Hargreaves"]), "subject.surname"),
    ],
)
def test_a_bad_field_is_refused_naming_it(change: Any, field: str) -> None:
    document = example()
    change(document)
    reading = read(document)
    assert not reading.accepted
    assert errors(reading) == {field}


def test_consent_sent_as_a_bare_answer_is_read() -> None:
    document = example()
    document["consent"] = "yes"
    reading = read(document)
    assert reading.accepted, reading.issues


def test_a_bad_nhs_number_or_language_is_a_warning_and_left_out() -> None:
    document = example()
    document["subject"].update(nhs_number="999 526 0183", preferred_language="Polish please")
    reading = read(document)
    assert reading.accepted and reading.referral is not None
    assert reading.referral.person.nhs_number is None
    assert reading.referral.person.language is None
    assert [(i.field, i.severity) for i in reading.issues] == [
        ("subject.nhs_number", "warning"),
        ("subject.preferred_language", "warning"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({**example(), "schema": "fire-safe-and-well/1"}).encode(),
    ],
)
def test_what_is_not_a_police_referral_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        PoliceFormat().read(body, RECEIVED)


def test_a_byte_order_mark_is_tolerated() -> None:
    [reading] = PoliceFormat().read(
        b"\xef\xbb\xbf" + inbound("police-vulnerability-referral.json"), RECEIVED
    )
    assert reading.accepted


def test_the_service_request_is_valid_fhir_r4_and_flags_the_risk() -> None:
    referral = read(example()).referral
    assert referral is not None
    request = to_service_request(referral, "ref-1", "ep-1")
    ServiceRequest.model_validate(request)
    assert {i["value"] for i in request["identifier"]} == {"ref-1", "CAD-4412-23NOV26"}
    assert {"url": request["extension"][1]["url"], "valueCode": "medium"} in request["extension"]
    patient = next(r for r in request["contained"] if r["resourceType"] == "Patient")
    assert patient["identifier"][0]["value"] == "9995260182"
    assert any(note["text"].startswith("Risk to visitors:") for note in request["note"])
