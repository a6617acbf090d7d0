"""Notification bundles: the Subscriptions Backport shape, id-only, and the message back."""

from datetime import UTC, datetime
from typing import Any

from hub_notifier.domain.message_back import message_back, message_back_parameter
from hub_notifier.domain.notification import (
    STATUS_PROFILE,
    TASK_TOPIC,
    Event,
    NotificationType,
    StatusReport,
    notification_bundle,
    status_bundle,
)

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


def test_completion_tells_the_code_to_record() -> None:
    done = message_back("completed", "connected-to-services", ("HealthcareService/foodbank",))
    assert done is not None
    assert done.code[0] == "871731000000106"
    part = message_back_parameter(done)
    parts = {p["name"]: p for p in part["part"]}
    assert parts["code"]["valueCoding"]["code"] == "871731000000106"
    assert parts["outcome"]["valueCode"] == "completed"
    assert parts["connected-to"]["valueString"] == "HealthcareService/foodbank"
    bundle = event_bundle(extra=(part,))
    assert _params(bundle["entry"][0]["resource"])["message-back"] == part


def test_a_person_declining_is_recorded_with_the_declined_code() -> None:
    for status in ("completed", "cancelled", "failed"):
        declined = message_back(status, "declined-by-person")
        assert declined is not None and declined.code[0] == "871711000000103"


def test_open_referrals_and_other_endings_have_no_message_back() -> None:
    for status in ("requested", "accepted", "in-progress", "on-hold", "rejected"):
        assert message_back(status, "allocated") is None
    assert message_back("failed", "unable-to-contact") is None
