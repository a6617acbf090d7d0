"""BaRS message Bundles: the header checked first, each fault named; updates recognised."""

import json
from datetime import UTC, datetime
from typing import Any

from hub_intake.adapters.bars_acknowledgement import acknowledgement
from hub_intake.adapters.formats import bars
from hub_intake.adapters.formats.base import Reading, ReferralUpdate, UnreadableMessage
from hub_intake.adapters.formats.fhir_bundle import FhirBundleFormat, read_process_message
from tests.support import bars as msg

RECEIVED = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def read(document: Any) -> Reading:
    [reading] = FhirBundleFormat().read(json.dumps(document).encode(), RECEIVED)
    return reading


def faults(reading: Reading) -> dict[str, str]:
    return {issue.field: issue.message for issue in reading.issues if issue.is_error}


def test_the_example_referral_message_is_accepted_as_a_new_referral() -> None:
    reading = read(msg.referral())
    assert reading.accepted, reading.issues
    assert reading.update is None
    assert reading.referral is not None
    assert reading.referral.referrer_reference == "H85002-BARS-000731"
    assert reading.referral.referrer.ods_code == "H85002"


def test_a_wrong_definition_is_refused_naming_the_one_enforced() -> None:
    message = msg.referral()
    msg.header(message)["definition"] = (
        "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request"
    )
    found = faults(read(message))
    assert list(found) == ["MessageHeader.definition"]
    assert bars.REFERRAL_DEFINITION in found["MessageHeader.definition"]
    assert "bars-message-booking-request" in found["MessageHeader.definition"]


def test_a_broken_header_names_every_faulty_element() -> None:
    message = msg.referral()
    header = msg.header(message)
    del header["source"]
    header["eventCoding"] = {"system": bars.EVENTS_SYSTEM, "code": "booking-request"}
    header["reason"] = {"coding": [{"system": bars.REASON_SYSTEM, "code": "maybe"}]}
    header["focus"] = [{"reference": "urn:uuid:not-in-this-bundle"}]
    del header["destination"]
    found = faults(read(message))
    assert set(found) == {
        "MessageHeader.source.endpoint",
        "MessageHeader.eventCoding",
        "MessageHeader.reason",
        "MessageHeader.focus",
        "MessageHeader.destination.endpoint",
    }
    assert "booking-request" in found["MessageHeader.eventCoding"]


def test_a_header_that_is_not_first_is_refused() -> None:
    message = msg.referral()
    message["entry"].reverse()
    assert "Bundle.entry[0]" in faults(read(message))


def test_missing_mandatory_elements_are_named() -> None:
    message = msg.referral()
    request = msg.service_request(message)
    del request["intent"], request["subject"]
    found = faults(read(message))
    assert "Bundle.entry[ServiceRequest].intent" in found
    assert "Bundle.entry[ServiceRequest].subject" in found


def test_an_amendment_and_a_cancellation_are_updates_of_the_version_read() -> None:
    amend = read(msg.amendment(msg.referral(), 1, "Money worries and housing"))
    assert amend.update == ReferralUpdate("amend", 1)
    assert amend.accepted and amend.referral is not None
    cancel = read(msg.cancellation(msg.referral(), 2))
    assert cancel.update == ReferralUpdate("cancel", 2)
    assert cancel.referrer_reference == "H85002-BARS-000731"
    assert faults(cancel) == {}


def test_an_update_neither_active_nor_revoked_is_refused() -> None:
    message = msg.amendment(msg.referral(), 1, "x")
    msg.service_request(message)["status"] = "on-hold"
    assert "Bundle.entry[ServiceRequest].status" in faults(read(message))


def test_process_message_takes_only_a_message_bundle() -> None:
    plain = msg.referral()
    plain["type"] = "collection"
    try:
        read_process_message(json.dumps(plain).encode(), RECEIVED)
    except UnreadableMessage as error:
        assert error.field == "Bundle.type"
    else:
        raise AssertionError("a collection was taken as a message")


def test_a_message_bundle_without_header_on_the_plain_route_is_still_a_plain_bundle() -> None:
    message = msg.referral()
    message["entry"] = message["entry"][1:]
    assert read(message).accepted


def test_the_acknowledgement_answers_the_request_header() -> None:
    message = msg.referral()
    header = bars.header_of(message)
    outcome = {"resourceType": "OperationOutcome", "issue": []}
    answer = acknowledgement(header, "ok", outcome, RECEIVED)
    response_header = answer["entry"][0]["resource"]
    assert answer["type"] == "message"
    assert response_header["response"]["identifier"] == msg.header(message)["id"]
    assert response_header["response"]["code"] == "ok"
    assert response_header["destination"] == [
        {"endpoint": "https://gp-system.example.nhs.uk/bars/responses"}
    ]
    assert response_header["response"]["details"]["reference"] == answer["entry"][1]["fullUrl"]


def test_on_the_plain_routes_only_a_header_claiming_bars_is_held_to_bars() -> None:
    message = msg.referral()
    header = msg.header(message)
    del header["eventCoding"], header["definition"]
    assert read(message).accepted  # some other FHIR message: its header is not BaRS's
    header["definition"] = bars.REFERRAL_DEFINITION
    assert "MessageHeader.eventCoding" in faults(read(message))
    [held] = read_process_message(json.dumps(message).encode(), RECEIVED)
    assert "MessageHeader.eventCoding" in faults(held)
