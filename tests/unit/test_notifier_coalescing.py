"""Coalescing: several single-event notifications of one subscription as one Bundle."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub_notifier.domain.coalescing import coalesce_notifications, coalesced_key
from hub_notifier.domain.message_back import message_back, message_back_parameter
from hub_notifier.domain.notification import (
    Event,
    NotificationType,
    StatusReport,
    notification_bundle,
)

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SUB = "https://hub.example/fhir/Subscription/sub-1"


def single(number: int, referral: str, *, ended: bool = False, numbered: bool = True) -> Any:
    done = message_back("completed", "connected-to-services") if ended else None
    extra = (message_back_parameter(done, number if numbered else None),) if done else ()
    report = StatusReport(
        subscription_url=SUB,
        status="active",
        type=NotificationType.EVENT_NOTIFICATION,
        events_since_start=number,
        events=(Event(number, WHEN + timedelta(seconds=number), f"Task/{referral}"),),
        extra=extra,
    )
    return notification_bundle(
        report,
        bundle_id=f"d-{number}",
        base_url="https://hub.example",
        timestamp=WHEN + timedelta(seconds=number),
    )


def named(bundle: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in bundle["entry"][0]["resource"]["parameter"] if p["name"] == name]


def test_the_events_go_in_order_with_the_latest_count_and_one_focus_entry_each() -> None:
    merged = coalesce_notifications(
        [single(3, "a"), single(4, "b"), single(5, "a", ended=True)], "key-1"
    )
    assert merged["id"] == "key-1" and merged["type"] == "history"
    assert merged["entry"][0]["fullUrl"] == "urn:uuid:key-1"
    numbers = [
        next(p["valueString"] for p in e["part"] if p["name"] == "event-number")
        for e in named(merged, "notification-event")
    ]
    assert numbers == ["3", "4", "5"]
    [count] = named(merged, "events-since-subscription-start")
    assert count["valueString"] == "5"
    assert [len(named(merged, n)) for n in ("subscription", "topic", "status", "type")] == [1] * 4
    foci = merged["entry"][1:]
    assert [e["request"]["url"] for e in foci] == ["Task/a", "Task/b", "Task/a"]
    assert all("resource" not in e for e in foci)  # still id-only
    assert merged["timestamp"] == single(5, "a")["timestamp"]


def test_each_message_back_names_its_event_even_from_a_bundle_frozen_without_it() -> None:
    merged = coalesce_notifications(
        [single(1, "a", ended=True, numbered=False), single(2, "b", ended=True)], "k"
    )
    backs = named(merged, "message-back")
    assert [b["part"][0] for b in backs] == [
        {"name": "event-number", "valueString": "1"},
        {"name": "event-number", "valueString": "2"},
    ]


def test_a_set_of_deliveries_has_its_own_stable_key_and_a_lone_one_keeps_its_id() -> None:
    assert coalesced_key(["d-1"]) == "d-1"
    assert coalesced_key(["d-1", "d-2"]) == coalesced_key(["d-1", "d-2"])
    assert coalesced_key(["d-1", "d-2"]) != coalesced_key(["d-1", "d-2", "d-3"])
    with pytest.raises(ValueError):
        coalesce_notifications([], "k")
