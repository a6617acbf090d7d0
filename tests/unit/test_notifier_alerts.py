"""The notifier's reading of service level alerts, and the digest it e-mails: ids and counts."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub_notifier.domain.alerts import Breach, Resolved, digest_email, parse_alert


def breach(**changes: Any) -> dict[str, Any]:
    return {
        "alert": "sla-breach",
        "rule": "first-contact",
        "level": "breach",
        "referralId": "r1",
        "task": "Task/r1",
        "borough": "Croydon",
        "dueAt": "2026-12-01T00:00:00+00:00",
        "raisedAt": "2026-12-01T00:05:00+00:00",
    } | changes


def test_a_breach_and_its_resolution_are_read() -> None:
    assert parse_alert(breach()) == Breach(
        "r1",
        "Croydon",
        "first-contact",
        "breach",
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 0, 5, tzinfo=UTC),
    )
    resolved = {
        "alert": "sla-breach-resolved",
        "rule": "closure",
        "resolution": "closed",
        "referralId": "r1",
        "raisedAt": "2027-02-16T09:00:00+00:00",
    }
    assert parse_alert(resolved) == Resolved(
        "r1", "closure", "closed", datetime(2027, 2, 16, 9, tzinfo=UTC)
    )


def test_other_kinds_of_alert_are_not_kept() -> None:
    assert parse_alert({"alert": "referral-awaiting-allocation", "referralId": "r1"}) is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (breach(rule="speed"), "rule"),
        (breach(level=3), "level"),
        (breach(referralId=""), "referralId"),
        (breach(dueAt="tomorrow"), "dueAt"),
        (breach(raisedAt="2026-12-01T00:05:00"), "raisedAt"),  # no time zone
        (breach(borough=["Croydon"]), "borough"),
        ({"rule": "closure"}, "alert"),
        (["not", "an", "object"], "object"),
    ],
)
def test_a_wrong_field_is_named(value: Any, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_alert(value)


def test_the_digest_counts_and_lists_ids_only() -> None:
    email = digest_email(
        "Croydon",
        date(2026, 12, 2),
        [
            ("r2", "first-contact", "breach"),
            ("r1", "first-contact", "breach"),
            ("r1", "first-contact", "escalated"),
        ],
        "https://hub.example/coordination/alerts",
    )
    assert email.subject == "Referral hub: 3 open service level alerts in Croydon"
    assert "- first-contact breach: 2" in email.body
    assert "- first-contact escalated: 1" in email.body
    assert email.body.index("- r1: first-contact breach") < email.body.index("- r2:")
    assert "https://hub.example/coordination/alerts" in email.body
