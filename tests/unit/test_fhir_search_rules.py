"""The hub's FHIR search and HTTP rules (hub_common.fhir.search, hub_common.http.fhir), and
how a resend is compared with the referral it repeats (hub_intake.domain.resend)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub_common.fhir.search import Cursor, SearchRefused, is_strict, parse_search
from hub_common.http.fhir import accepts_json, etag_matches
from hub_intake.domain.resend import changed_fields


def parse(*pairs: tuple[str, str], strict: bool = False) -> object:
    return parse_search(list(pairs), ("status",), strict=strict, max_count=500)


def test_count_is_capped_and_a_bad_one_refused() -> None:
    assert parse_search([("_count", "5000")], (), strict=False).count == 500
    with pytest.raises(SearchRefused):
        parse_search([("_count", "-1")], (), strict=False)


def test_unknown_parameters_are_ignored_and_left_out_of_self_unless_strict() -> None:
    search = parse_search([("bogus", "x"), ("status", "ready")], ("status",), strict=False)
    assert search.ignored == ("bogus",)
    assert ("bogus", "x") not in search.applied() and ("status", "ready") in search.applied()
    with pytest.raises(SearchRefused) as refused:
        parse_search([("bogus", "x")], ("status",), strict=True)
    assert refused.value.issue.field == "bogus"


def test_sort_summary_elements_and_id() -> None:
    search = parse_search(
        [("_sort", "-_lastUpdated"), ("_summary", "count"), ("_elements", "status,focus")],
        (),
        strict=True,
    )
    assert search.descending and search.summary_count and search.elements == ("status", "focus")
    assert parse_search([("_id", "a,b")], (), strict=True).ids == ("a", "b")
    with pytest.raises(SearchRefused):
        parse_search([("_sort", "status")], (), strict=True)
    lenient = parse_search([("_sort", "status"), ("_summary", "text")], (), strict=False)
    assert lenient.ignored == ("_sort", "_summary") and not lenient.sort_given


def test_a_cursor_survives_its_link_and_a_forged_one_is_refused() -> None:
    cursor = Cursor(False, datetime(2026, 4, 1, 9, 0, 0, 123456, tzinfo=UTC), "task-1")
    assert Cursor.parse(cursor.token()) == cursor
    with pytest.raises(SearchRefused):
        Cursor.parse("not-a-cursor")


@pytest.mark.parametrize(
    ("prefer", "strict"),
    [("handling=strict", True), ("return=minimal, handling=strict", True), (None, False)],
)
def test_prefer_handling(prefer: str | None, strict: bool) -> None:
    assert is_strict(prefer) is strict


@pytest.mark.parametrize(
    ("accept", "format_", "ok"),
    [
        (None, None, True),
        ("application/fhir+json", None, True),
        ("*/*", None, True),
        ("application/fhir+xml", None, False),
        ("application/xml;q=1, application/json;q=0", None, False),
        ("application/fhir+json", "xml", False),
        ("application/fhir+xml", "json", True),
    ],
)
def test_json_or_406(accept: str | None, format_: str | None, ok: bool) -> None:
    assert accepts_json(accept, format_) is ok


def test_if_none_match_as_clients_send_it() -> None:
    assert all(etag_matches(tag, "3") for tag in ('W/"3"', '"3"', "3", "*"))
    assert not etag_matches('W/"2"', "3") and not etag_matches(None, "3")


def test_a_resend_with_a_new_phone_and_new_words_names_both() -> None:
    stored = {
        "resourceType": "ServiceRequest",
        "id": "r1",
        "authoredOn": "2026-01-01",
        "note": [{"text": "old words"}],
        "contained": [
            {"resourceType": "Patient", "id": "patient", "telecom": [{"value": "07700 900001"}]},
            {"resourceType": "Organization", "id": "requester-org", "name": "CVA"},
            {"resourceType": "Consent", "id": "consent", "dateTime": "2026-01-01"},
        ],
    }
    resent = {
        **stored,
        "authoredOn": "2026-01-02",
        "note": [{"text": "new words"}],
        "contained": [
            {"resourceType": "Patient", "id": "patient", "telecom": [{"value": "07700 900002"}]},
            {"resourceType": "Organization", "id": "requester-org", "name": "CVA (Croydon)"},
            {"resourceType": "Consent", "id": "consent", "dateTime": "2026-01-02"},
        ],
    }
    assert changed_fields(stored, resent) == ["ServiceRequest.note", "Patient.telecom"]
    assert changed_fields(stored, stored) == []
