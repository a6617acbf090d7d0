"""Notification bundles: the Subscriptions Backport shape, id-only, and the message back."""

from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_notifier.domain.message_back import (
    Moment,
    for_gp_practice,
    message_back,
    message_back_parameter,
)
from hub_notifier.domain.notification import (
    STATUS_PROFILE,
    TASK_TOPIC,
    Event,
    NotificationType,
    StatusReport,
    notification_bundle,
    status_bundle,
)
from tests.support.notifier_setup import CLOSING_OUTCOMES

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SUB = "https://hub.example/fhir/Subscription/sub-1"


def _params(parameters: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p for p in parameters["parameter"]}


def event_bundle(extra: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    report = StatusReport(
        subscription_url=SUB,
        status="active",
        type=NotificationType.EVENT_NOTIFICATION,
        events_since_start=7,
        events=(Event(7, WHEN, "Task/ref-1"),),
        extra=extra,
    )
    return notification_bundle(
        report, bundle_id="b-1", base_url="https://hub.example/", timestamp=WHEN
    )


def test_an_event_notification_is_a_history_bundle_led_by_the_status_parameters() -> None:
    bundle = event_bundle()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "history"
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "Parameters"
    assert first["meta"]["profile"] == [STATUS_PROFILE]
    params = _params(first)
    assert params["subscription"]["valueReference"]["reference"] == SUB
    assert params["topic"]["valueCanonical"] == TASK_TOPIC
    assert params["status"]["valueCode"] == "active"
    assert params["type"]["valueCode"] == "event-notification"
    assert params["events-since-subscription-start"]["valueString"] == "7"
    parts = {p["name"]: p for p in params["notification-event"]["part"]}
    assert parts["event-number"]["valueString"] == "7"
    assert parts["focus"]["valueReference"]["reference"] == "Task/ref-1"
    assert parts["timestamp"]["valueInstant"].startswith("2026-03-01T09:30:00")


def test_id_only_means_the_focus_entry_has_a_url_and_no_resource() -> None:
    focus = event_bundle()["entry"][1]
    assert focus["fullUrl"] == "https://hub.example/fhir/Task/ref-1"
    assert "resource" not in focus
    assert len(event_bundle()["entry"]) == 2


def test_a_handshake_carries_no_event() -> None:
    report = StatusReport(SUB, "requested", NotificationType.HANDSHAKE, 0)
    bundle = notification_bundle(report, bundle_id="h", base_url="https://hub", timestamp=WHEN)
    params = _params(bundle["entry"][0]["resource"])
    assert params["type"]["valueCode"] == "handshake"
    assert params["events-since-subscription-start"]["valueString"] == "0"
    assert "notification-event" not in params
    assert len(bundle["entry"]) == 1


def test_status_answers_are_a_searchset_with_the_errors() -> None:
    report = StatusReport(
        SUB, "error", NotificationType.QUERY_STATUS, 3, errors=("event 2: dead-lettered",)
    )
    bundle = status_bundle(report, timestamp=WHEN)
    assert bundle["type"] == "searchset"
    params = bundle["entry"][0]["resource"]["parameter"]
    assert {"name": "error", "valueCodeableConcept": {"text": "event 2: dead-lettered"}} in params


def test_the_person_taking_up_support_is_the_referral_code_and_closing_does_not_repeat_it() -> None:
    taken_up = message_back("in-progress", "first-contact-made", first_contact=True)
    assert taken_up is not None and taken_up.moment is Moment.ACCEPTED
    assert taken_up.code is not None and taken_up.code[0] == "871731000000106"
    part = message_back_parameter(taken_up)
    parts = {p["name"]: p for p in part["part"]}
    assert parts["code"]["valueCoding"]["code"] == "871731000000106"
    assert (parts["moment"]["valueCode"], parts["outcome"]["valueCode"]) == (
        "accepted",
        "in-progress",
    )
    bundle = event_bundle(extra=(part,))
    assert _params(bundle["entry"][0]["resource"])["message-back"] == part
    # Later versions at a contact step are not the first interaction: nothing is due.
    assert message_back("in-progress", "first-contact-made") is None
    closed = message_back("completed", "connected-to-services")
    assert closed is not None and (closed.moment, closed.code) == (Moment.CLOSED, None)
    assert "code" not in {p["name"] for p in message_back_parameter(closed)["part"]}
    # Accepted and closed in one step: the closing message carries the code itself.
    at_once = message_back("completed", "first-contact-made", first_contact=True)
    assert at_once is not None and at_once.code is not None
    assert (at_once.moment, at_once.code[0]) == (Moment.CLOSED, "871731000000106")


def test_a_person_declining_is_recorded_with_the_declined_code() -> None:
    for status in ("completed", "cancelled", "failed"):
        declined = message_back(status, "declined-by-person")
        assert declined is not None and declined.code is not None
        assert (declined.moment, declined.code[0]) == (Moment.DECLINED, "871711000000103")


def test_only_a_gp_practice_through_the_fhir_source_hears_the_message_back() -> None:
    gp = f"{ODS_SYSTEM}|H85001"
    assert for_gp_practice("fhir", gp)
    assert not for_gp_practice("community", gp)
    assert not for_gp_practice("fhir", f"{AGENCY_ID_SYSTEM}|police:met")


def test_open_referrals_and_other_endings_have_no_message_back() -> None:
    for status in ("requested", "accepted", "in-progress", "on-hold", "rejected"):
        assert message_back(status, "allocated") is None
        assert message_back(status, "allocated", first_contact=True) is None
    assert message_back("failed", "unable-to-contact") is None


def test_only_the_closing_message_carries_the_coded_support_and_measures() -> None:
    accepted = message_back(
        "in-progress", "first-contact-made", first_contact=True, outcomes=CLOSING_OUTCOMES
    )
    assert accepted is not None and accepted.outcomes is None
    closed = message_back("completed", "connected-to-services", outcomes=CLOSING_OUTCOMES)
    assert closed is not None
    names = [p["name"] for p in message_back_parameter(closed)["part"]]
    assert names.count("support-offered") == 2 and names.count("wellbeing") == 2
    assert "Goes to the carers" not in str(message_back_parameter(closed))
