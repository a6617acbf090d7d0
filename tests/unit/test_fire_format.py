import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from hub_common.fhir.needs import NeedCategory as N
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import Reading, UnreadableMessage
from hub_intake.adapters.formats.fire import FireFormat
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def example() -> dict[str, Any]:
    return json.loads(inbound("fire-safe-and-well.json"))


def read(document: Any) -> Reading:
    [reading] = FireFormat().read(json.dumps(document).encode(), RECEIVED)
    return reading


def errors(reading: Reading) -> set[str]:
    return {issue.field for issue in reading.issues if issue.is_error}


def test_the_example_is_accepted_with_every_value_carried() -> None:
    reading = read(example())
    assert reading.accepted, reading.issues
    assert reading.issues == []  # an empty NHS number is no number, not a bad one
    referral = reading.referral
    assert referral is not None
    assert (referral.source, referral.referrer_reference) == ("fire", "SWV-2026-88231")
    person = referral.person
    assert (person.given_names, person.family_name) == (("Margaret",), "O'Neill")
    assert person.birth_date == date(1939, 2, 3)
    assert person.address.lines == ("Flat 2, 9 Cheam Road, Sutton",)
    assert person.address.postcode == "SM1 1AA"
    assert person.nhs_number is None
    assert referral.referrer.organisation == "London Fire Brigade"
    assert referral.referrer.organisation_type == "fire_service"
    assert referral.referrer.person_name == "Watch Manager Priya Shah"
    assert referral.authored_on == datetime(2026, 11, 20, tzinfo=UTC)
    assert referral.consent.recorded_at == datetime(2026, 11, 20, tzinfo=UTC)
    assert [(n.category, n.text) for n in referral.needs] == [
        (N.LONELINESS_ISOLATION, "lives alone"),
        (N.HOUSING, "cold home"),
        (N.LONELINESS_ISOLATION, "Loneliness"),
        (N.HOUSING, "Cold home / fuel poverty"),
        (N.MONEY_DEBT_BENEFITS, "Cold home / fuel poverty"),
        (None, "Would like help getting out"),
    ]
    assert referral.notes[0] == "Also noted on the visit: mobility issues, hearing impaired"
    assert referral.notes[1].startswith("Very chatty")


@pytest.mark.parametrize(
    ("name", "given", "family"),
    [
        ("Mrs Margaret O'Neill", ("Margaret",), "O'Neill"),
        ("Dr. John Smith", ("John",), "Smith"),
        ("  MR   JOHN  SMITH ", ("JOHN",), "SMITH"),
        ("Mx Sam Lee", ("Sam",), "Lee"),
        ("Miss Ada Mary Lovelace", ("Ada", "Mary"), "Lovelace"),
        ("Rev Dr Martin Luther", ("Martin",), "Luther"),
        ("Mrs O'Neill", (), "O'Neill"),
        ("Margaret O'Neill", ("Margaret",), "O'Neill"),
    ],
)
def test_the_title_is_stripped_and_the_last_word_is_the_family_name(
    name: str, given: tuple[str, ...], family: str
) -> None:
    document = example()
    document["occupant"]["name"] = name
    reading = read(document)
    assert reading.accepted, reading.issues
    assert reading.referral is not None
    assert (reading.referral.person.given_names, reading.referral.person.family_name) == (
        given,
        family,
    )


def test_messy_values_are_read_liberally() -> None:
    document = example()
    document["visited_on"] = "2026-11-20"
    document["occupant"].update(postcode="SM11AA", dob="1939-02-03", nhs_number="943 476 5919")
    document["consent_to_share"] = "Y"
    document["risk_factors"] = {"hoarding": "yes", "lives_alone": "NO", "cold_home": False}
    document["referral_reasons"] = ["  ", "Hoarding"]
    reading = read(document)
    assert reading.accepted, reading.issues
    referral = reading.referral
    assert referral is not None
    assert referral.person.address.postcode == "SM1 1AA"
    assert referral.person.nhs_number == "9434765919"
    assert referral.authored_on == datetime(2026, 11, 20, tzinfo=UTC)
    assert [(n.category, n.text) for n in referral.needs] == [
        (N.HOARDING, "hoarding"),
        (N.HOARDING, "Hoarding"),
    ]
    assert referral.notes == (example()["notes"],)


@pytest.mark.parametrize("answer", ["yes", "YES", " y ", True])
def test_consent_to_share_may_be_any_yes(answer: Any) -> None:
    document = example()
    document["consent_to_share"] = answer
    assert read(document).accepted


def test_refused_consent_is_refused_and_says_so() -> None:
    document = example()
    document["consent_to_share"] = "no"
    reading = read(document)
    assert errors(reading) == {"consent_to_share"}
    assert reading.issues[0].message == "consent to share was not given"


def test_every_missing_requirement_is_named_and_the_crew_can_still_be_told() -> None:
    document = example()
    document["brigade"] = ""
    document["occupant"].update(name="Mrs", address=" ", phone=None, postcode="")
    document["crew_contact"].update(email="", phone=None)
    del document["consent_to_share"]
    reading = read(document)
    assert not reading.accepted and reading.referral is None
    assert errors(reading) == {
        "brigade",
        "occupant.name",
        "occupant",
        "occupant.postcode",
        "crew_contact",
        "consent_to_share",
    }
    assert reading.referrer_reference == "SWV-2026-88231"
    assert reading.contact.name == "Watch Manager Priya Shah"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(visited_on="20/13/2026"), "visited_on"),
        (lambda d: d["occupant"].update(dob="03/02/2039"), "occupant.dob"),
        (lambda d: d["occupant"].update(postcode="KT7 0AA"), "occupant.postcode"),
        (lambda d: d.update(risk_factors=["hoarding"]), "risk_factors"),
        (lambda d: d["risk_factors"].update(smoker="sometimes"), "risk_factors.smoker"),
        (lambda d: d.pop("visit_id"), "visit_id"),
        (lambda d: d.update(occupant=None), "occupant.name"),
    ],
)
def test_a_bad_field_is_refused_naming_it(change: Any, field: str) -> None:
    document = example()
    change(document)
    reading = read(document)
    assert not reading.accepted
    assert field in errors(reading)


def test_a_bad_nhs_number_is_a_warning_and_left_out() -> None:
    document = example()
    document["occupant"]["nhs_number"] = 9434765918
    reading = read(document)
    assert reading.accepted and reading.referral is not None
    assert reading.referral.person.nhs_number is None
    assert [(i.field, i.severity) for i in reading.issues] == [("occupant.nhs_number", "warning")]


@pytest.mark.parametrize(
    "body", [b"", b"{", b'"text"', json.dumps({"schema": "fire-safe-and-well/2"}).encode()]
)
def test_what_is_not_a_fire_referral_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        FireFormat().read(body, RECEIVED)


def test_the_service_request_is_valid_fhir_r4() -> None:
    referral = read(example()).referral
    assert referral is not None
    request = to_service_request(referral, "ref-1", "ep-1")
    ServiceRequest.model_validate(request)
    assert request["authoredOn"] == "2026-11-20T00:00:00+00:00"
    assert {i["value"] for i in request["identifier"]} == {"ref-1", "SWV-2026-88231"}
    patient = next(r for r in request["contained"] if r["resourceType"] == "Patient")
    assert patient["name"][0] == {"use": "official", "family": "O'Neill", "given": ["Margaret"]}
    organisation = next(r for r in request["contained"] if r["resourceType"] == "Organization")
    assert organisation["type"] == [{"text": "fire_service"}]
