"""Erasure and restriction requests as events, and how the topic eraser recognises a person's
records (hub_common.privacy.data_protection, hub_common.privacy.topic_erasure)."""

from __future__ import annotations

import pytest

from hub_common.privacy.data_protection import DataProtectionRequest
from hub_common.privacy.topic_erasure import Person, reduced


def test_a_request_survives_the_topic_unchanged() -> None:
    request = DataProtectionRequest("restrict", ("r1", "r2"), ("e1",))
    again = DataProtectionRequest.from_json(request.to_json())
    assert again == request
    assert again.subjects == ("r1", "r2", "e1")


@pytest.mark.parametrize(
    "value",
    [
        {"action": "forget", "requestId": "x", "referralIds": [], "requestedAt": "2026-01-01"},
        {"action": "erase", "requestId": "x", "referralIds": "r1", "requestedAt": "2026-01-01"},
        {"action": "lift", "requestId": "x", "referralIds": ["r1"], "requestedAt": "2026-01-01"},
        {"action": "erase", "referralIds": ["r1"]},
        ["not", "a", "request"],
    ],
)
def test_what_is_not_a_request_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        DataProtectionRequest.from_json(value)


def test_a_person_is_found_by_key_or_by_identifiers_however_formatted() -> None:
    person = Person.of(["ref-1"], ["943 476 5919", "Baptiste", "07700 900321", "Li"])
    assert person.matches(b"ref-1", b"{}")
    assert person.matches(b"other", b'{"nhs": "9434765919"}')
    assert person.matches(None, b'{"surname": "BAPTISTE"}')
    assert person.matches(None, b'{"phone": "07700-900-321"}')
    assert not person.matches(b"ref-2", b'{"surname": "Mensah", "phone": "020 8684 3862"}')
    # Too short to tell anyone apart: "Li" would match half the topic.
    assert not person.matches(None, b'{"city": "Lincoln"}')
    assert reduced("CR0 1JA") == "cr01ja"
