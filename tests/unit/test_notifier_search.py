"""FHIR search parameters of the read API."""

from datetime import UTC, datetime

import pytest

from hub_notifier.adapters.fhir_search import parse_instant_bound, parse_token_list
from hub_notifier.domain.access import Reader


def test_last_updated_takes_a_prefix_and_an_instant() -> None:
    bound = parse_instant_bound("gt2026-01-01T00:00:00Z")
    assert bound.prefix == "gt"
    assert bound.instant == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_instant_bound("2026-01-01T00:00:00+00:00").prefix == "eq"
    assert parse_instant_bound("le2026-01-01").instant.tzinfo is not None


@pytest.mark.parametrize("value", ["gtyesterday", "ne2026-01-01", ""])
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_instant_bound(value)


def test_token_lists_are_comma_separated() -> None:
    assert parse_token_list("accepted, in-progress,,") == ("accepted", "in-progress")
    assert parse_token_list(None) == ()


def test_an_agency_reads_only_its_own_and_a_coordinator_only_their_boroughs() -> None:
    agency = Reader(organisation="sys|A")
    assert agency.may_read("sys|A", None)
    assert not agency.may_read("sys|B", "Croydon")
    coordinator = Reader(boroughs=frozenset({"Croydon"}))
    assert coordinator.may_read("sys|B", "Croydon")
    assert not coordinator.may_read("sys|B", "Sutton")
    assert not coordinator.may_read("sys|B", None)
    assert not Reader().may_read("sys|A", "Croydon")
