"""FHIR JSON rules every emitted resource keeps, checked without a JVM: no empty arrays,
strings or objects, no nulls (FHIR: "the property should not be present if it has no
values"), and the contained Consent says what it rests on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fhir_corpus import corpus


def empty_values(value: Any, path: str = "") -> Iterator[str]:
    if value is None or value in ("", [], {}):
        yield path or "(root)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from empty_values(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from empty_values(item, f"{path}[{index}]")


@pytest.mark.parametrize("label", sorted(corpus()))
def test_no_empty_values(label: str) -> None:
    assert list(empty_values(corpus()[label])) == []


def test_the_walk_finds_empty_values() -> None:
    found = list(empty_values({"a": [], "b": [{"c": ""}], "d": {"e": None}, "f": {}}))
    assert found == ["a", "b[0].c", "d.e", "f"]


def test_a_worker_with_no_needs_languages_or_days_has_no_empty_arrays() -> None:
    role = corpus()["PractitionerRole/bare"]
    assert "specialty" not in role and "availableTime" not in role
    assert "communication" not in role["contained"][0]


def test_empty_search_pages_and_counts_have_no_entry() -> None:
    assert "entry" not in corpus()["Bundle/notifier-search-empty"]
    assert "entry" not in corpus()["Bundle/router-search-count"]


def test_the_consent_names_its_policy_and_carries_its_source() -> None:
    request = corpus()["ServiceRequest/police-0"]
    consent = next(r for r in request["contained"] if r["resourceType"] == "Consent")
    assert consent["policyRule"]["coding"][0]["code"] == "OPTIN"
    attachment = consent["sourceAttachment"]
    assert attachment["contentType"].startswith("text/plain") and attachment["data"]


def test_the_gp_bundle_fixture_consent_has_a_policy_rule() -> None:
    bundle = corpus()["Bundle/gp-input"]
    consent = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Consent"
    )
    assert "policy" in consent or "policyRule" in consent  # invariant ppc-1
