import json
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from hub_common.fhir.needs import NeedCategory
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.community import CommunityFormat
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def example() -> dict[str, Any]:
    return json.loads(inbound("community-referral.json"))


def read(document: dict[str, Any]):  # type: ignore[no-untyped-def]
    [reading] = CommunityFormat().read(json.dumps(document).encode(), RECEIVED)
    return reading


def test_the_example_is_accepted_with_needs_mapped_and_words_kept() -> None:
    reading = read(example())
    assert reading.accepted, reading.issues
    referral = reading.referral
    assert referral.referrer_reference == "CVA-2026-000187"
    assert referral.person.address.postcode == "CR7 8RS"
    assert referral.person.interpreter_needed and referral.person.language == "tw"
    assert [(n.category, n.text) for n in referral.needs] == [
        (NeedCategory.CARER_SUPPORT, "carer_support"),
        (NeedCategory.LONELINESS_ISOLATION, "loneliness"),
    ]


def test_messy_values_are_read_liberally() -> None:
    document = example()
    document["person"].update(
        postcode=" cr7  8rs ", date_of_birth="08/07/1972", nhs_number="943 476 5919"
    )
    document["consent"] = "Yes"
    document["needs"] = ["Carer Support", "knitting circle"]
    reading = read(document)
    assert reading.accepted, reading.issues
    assert reading.referral.person.address.postcode == "CR7 8RS"
    assert reading.referral.person.nhs_number == "9434765919"
    assert reading.referral.needs[1].category is None  # unknown words are kept, not refused
    assert reading.referral.needs[1].text == "knitting circle"


def test_an_invalid_nhs_number_is_a_warning_and_is_left_out() -> None:
    document = example()
    document["person"]["nhs_number"] = "943 476 5918"
    reading = read(document)
    assert reading.accepted
    assert reading.referral.person.nhs_number is None
    assert [(i.field, i.severity) for i in reading.issues] == [("person.nhs_number", "warning")]


def test_every_missing_requirement_is_named() -> None:
    document = example()
    document["consent"] = False
    document["person"].update(
        family_name="  ", postcode="M1 1AE", phone=None, address="", email=None
    )
    document["referrer"].update(email="", phone=None)
    reading = read(document)
    assert not reading.accepted
    fields = {issue.field for issue in reading.issues if issue.is_error}
    assert fields == {"consent", "person.family_name", "person.postcode", "person", "referrer"}
    assert reading.contact.organisation == "Croydon Voluntary Action"


def test_the_service_request_is_valid_fhir_r4_and_carries_no_invalid_nhs_number() -> None:
    referral = read(example()).referral
    request = to_service_request(referral, "ref-1", "ep-1")
    ServiceRequest.model_validate(request)  # raises on any structural error
    assert request["code"]["coding"][0]["code"] == "871731000000106"
    assert {i["value"] for i in request["identifier"]} == {"ref-1", "CVA-2026-000187"}
    patient = next(r for r in request["contained"] if r["resourceType"] == "Patient")
    assert "identifier" not in patient  # the example has no NHS number
    assert request["reasonCode"][0]["text"] == "carer_support"
