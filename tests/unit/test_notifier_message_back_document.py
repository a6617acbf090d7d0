"""The message back document: which Task version marks each moment, how a document is named,
and that the notification's `message-back` part points at it."""

from __future__ import annotations

from typing import Any

from hub_notifier.domain.message_back import (
    Moment,
    document_id,
    message_back,
    message_back_parameter,
    parse_document_id,
    version_of_moment,
)


def version(number: int, status: str, step: str) -> dict[str, Any]:
    return {
        "id": "ref-1",
        "meta": {"versionId": str(number)},
        "status": status,
        "businessStatus": {"coding": [{"code": step}]},
    }


def test_a_document_id_names_a_referral_and_a_moment_and_nothing_else() -> None:
    assert parse_document_id(document_id("ref-a-b", Moment.CLOSED)) == ("ref-a-b", Moment.CLOSED)
    for name in ("ref-1", "ref-1-opened", "-closed", "closed", ""):
        assert parse_document_id(name) is None


def test_acceptance_is_the_first_contact_and_closure_the_completion() -> None:
    versions = [
        version(1, "requested", "offered"),
        version(2, "in-progress", "first-contact-made"),
        version(3, "in-progress", "connected-to-services"),
        version(4, "completed", "connected-to-services"),
    ]
    assert version_of_moment(versions, Moment.ACCEPTED) == (versions[1], True)
    assert version_of_moment(versions, Moment.CLOSED) == (versions[3], False)
    assert version_of_moment(versions, Moment.DECLINED) is None


def test_accepted_and_closed_in_one_step_is_a_closing_message_with_the_code() -> None:
    versions = [version(1, "requested", "offered"), version(2, "completed", "first-contact-made")]
    assert version_of_moment(versions, Moment.ACCEPTED) is None
    found = version_of_moment(versions, Moment.CLOSED)
    assert found == (versions[1], True)
    message = message_back("completed", "first-contact-made", first_contact=True)
    assert message is not None and message.code is not None
    assert message.code[0] == "871731000000106"


def test_the_notification_part_links_to_the_document() -> None:
    message = message_back("in-progress", "first-contact-made", first_contact=True)
    assert message is not None
    url = "https://hub.example.org/fhir/Bundle/ref-1-accepted"
    parts = message_back_parameter(message, 3, url)["part"]
    assert {"name": "document", "valueUri": url} in parts
    assert "document" not in str(message_back_parameter(message, 3)["part"])
