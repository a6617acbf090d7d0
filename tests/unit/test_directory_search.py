"""Finding a service: capacity states, the reasons a match gives, the usual response, days,
and the district centroid table (pure parts; the SQL is tested in
tests/integration/test_directory_search.py)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from importlib import resources

import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.region.district_centroids import centroid_of, distance_km
from hub_common.region.service_area import district_boroughs
from hub_router.domain.directory_search import (
    Answer,
    Availability,
    Candidate,
    Capacity,
    CapacityKind,
    CapacityRefused,
    SearchCriteria,
    UsualResponse,
    new_capacity,
    parse_days,
    reasons,
    usual_response,
)

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def candidate(**changes: object) -> Candidate:
    values: dict[str, object] = {
        "id": "hs-1",
        "needs": frozenset({"food-insecurity", "money-debt-benefits"}),
        "terms": frozenset({"food-bank"}),
        "days": frozenset({"tue", "sat"}),
        "free": True,
        "minimum_age": 18,
        "maximum_age": None,
    }
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("capacity", "state"),
    [
        (Capacity(), Availability.UNKNOWN),
        (Capacity(CapacityKind.PLACES, 2, AT), Availability.AVAILABLE),
        (Capacity(CapacityKind.PLACES, 0, AT), Availability.FULL),
        (Capacity(CapacityKind.WAITING_LIST, None, AT), Availability.WAITING_LIST),
    ],
)
def test_availability(capacity: Capacity, state: Availability) -> None:
    assert capacity.availability is state


def test_a_capacity_needs_places_for_places_and_none_for_a_waiting_list() -> None:
    assert new_capacity(CapacityKind.PLACES, 0, AT) == Capacity(CapacityKind.PLACES, 0, AT)
    with pytest.raises(CapacityRefused, match=r"^placesAvailable: "):
        new_capacity(CapacityKind.PLACES, None, AT)
    with pytest.raises(CapacityRefused, match=r"^placesAvailable: "):
        new_capacity(CapacityKind.PLACES, -1, AT)
    with pytest.raises(CapacityRefused, match=r"^placesAvailable: "):
        new_capacity(CapacityKind.WAITING_LIST, 3, AT)


def test_reasons_name_each_condition_asked_and_nothing_else() -> None:
    criteria = SearchCriteria(
        needs=frozenset({NeedCategory.FOOD_INSECURITY, NeedCategory.HOUSING}),
        terms=frozenset({"food-bank", "pantry"}),
        text="food",
        origin_district="CR7",
        days=frozenset({"sat", "mon"}),
        free=True,
        age=70,
        availability=frozenset({Availability.AVAILABLE}),
    )
    said = reasons(
        candidate(distance_km=1.234, capacity=Capacity(CapacityKind.PLACES, 1, AT)), criteria
    )
    assert said == [
        "Meets the need: Food insecurity",
        "Service type: food-bank",
        "Name or description matches \u201cfood\u201d",
        "1.2 km from the centre of CR7",
        "Open on Saturday",
        "Free of charge",
        "Takes people aged 70 (18 and over)",
        "1 place available",
    ]
    assert reasons(candidate(), SearchCriteria()) == []


def test_usual_response_is_the_median_and_share_of_decided_referrals() -> None:
    assert usual_response([]) == UsualResponse(0, None, None)
    usual = usual_response(
        [
            (1.0, Answer.ACCEPTED),
            (3.0, Answer.DECLINED),
            (10.0, Answer.ACCEPTED),
            (None, Answer.ACCEPTED),  # answered, moment not known: not in the median
            (10.0, Answer.NO_RESPONSE),  # nobody answered: not an answer, not accepted
        ]
    )
    assert usual == UsualResponse(answered=4, median_days_to_answer=3.0, share_accepted=0.6)
    assert usual_response([(None, Answer.NO_RESPONSE)]) == UsualResponse(0, None, 0.0)


def test_days_are_fhir_codes() -> None:
    assert parse_days(["mon,TUE", " sat "]) == {"mon", "tue", "sat"}
    with pytest.raises(ValueError, match="funday"):
        parse_days(["mon,funday"])


def test_every_served_district_has_a_centroid_from_a_stated_source() -> None:
    table = resources.files("hub_common").joinpath("data/postcode-district-centroids.csv")
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["district"] for r in rows} >= set(district_boroughs())
    assert all(r["source"] and int(r["locations"]) > 0 for r in rows)
    for row in rows:  # inside Greater London's south-west, not made-up zeros
        assert 51.2 < float(row["latitude"]) < 51.6 and -0.6 < float(row["longitude"]) < 0.1


def test_distance_is_great_circle_km() -> None:
    croydon, wimbledon = centroid_of("cr0"), centroid_of("SW19")
    assert croydon is not None and wimbledon is not None
    assert 7 < distance_km(croydon, wimbledon) < 10
    assert distance_km(croydon, croydon) == 0
    assert centroid_of("ZZ9") is None
