"""The service area as data an operator loads (issue 16, part 6): the packaged South West London
demo, a second region from a file, and every problem of a bad file named by field or line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub_common.region.service_area import (
    SERVICE_AREA_ENV,
    ServiceAreaError,
    borough_of,
    boroughs,
    load_service_area,
    parse_service_area,
    read_service_area,
    service_area,
)
from hub_common.settings import InfraSettings
from hub_intake.domain.checks import postcode_problem
from tests.support.fixtures import FIXTURES

MANCHESTER = FIXTURES / "service-area-manchester.json"


def area_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "Testshire",
        "local_authorities": [
            {"code": "E06000001", "name": "North Test", "districts": ["TS1", "TS2"]},
            {"code": "E06000002", "name": "South Test", "districts": ["TS9"]},
        ],
    }
    document.update(changes)
    return document


def problems_of(document: Any) -> list[str]:
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    with pytest.raises(ServiceAreaError) as refused:
        parse_service_area(text, "area.json")
    assert str(refused.value).startswith(f"service area area.json ({SERVICE_AREA_ENV}): ")
    return refused.value.problems


def test_the_packaged_demo_is_south_west_london_when_nothing_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SERVICE_AREA_ENV, raising=False)
    area = service_area()
    assert area.name == "South West London"
    assert area.boroughs == (
        "Croydon",
        "Kingston upon Thames",
        "Merton",
        "Richmond upon Thames",
        "Sutton",
        "Wandsworth",
    )
    assert [a.code for a in area.authorities][:2] == ["E09000008", "E09000021"]
    assert borough_of("SW19 1AB") == "Merton" and borough_of("M1 1AE") is None
    assert len(area.district_boroughs) == 35


def test_a_configured_region_replaces_the_demo_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVICE_AREA_ENV, str(MANCHESTER))
    assert service_area().name == "Greater Manchester (test region)"
    assert boroughs() == ("Manchester", "Salford", "Trafford", "Stockport")
    assert borough_of("M5 3AA") == "Salford"
    # Intake refuses the demo's own postcodes, naming the configured area...
    assert postcode_problem("SW18 4EQ") == (
        "postcode district SW18 is outside the service area 'Greater Manchester (test region)', "
        "which the hub serves"
    )
    # ...and accepts the region's.
    assert postcode_problem("m1 1ae") is None
    assert InfraSettings().service_area == str(MANCHESTER)


def test_a_service_with_a_bad_area_file_stops_at_start_naming_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "area.json"
    bad.write_text(json.dumps(area_document(name="")), encoding="utf-8")
    monkeypatch.setenv(SERVICE_AREA_ENV, str(bad))
    with pytest.raises(
        ValidationError, match=r"area\.json \(HUB_SERVICE_AREA\): name: String should have at"
    ):
        InfraSettings()
    monkeypatch.setenv(SERVICE_AREA_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(
        ValidationError, match=r"missing\.json \(HUB_SERVICE_AREA\): cannot be read: No such file"
    ):
        InfraSettings()


def test_every_problem_of_an_area_file_is_named_by_its_field() -> None:
    document = area_document(
        notes={"ZZ1": "not ours"},
        local_authorities=[
            {"code": "E6000001", "name": "North Test", "districts": ["TS1", "ts2", "TS1 1AA"]},
            {"code": "E06000002", "name": "North Test", "districts": ["TS1"]},
            {"code": "E06000002", "name": " Padded ", "districts": [], "colour": "red"},
        ],
    )
    assert problems_of(document) == [
        "local_authorities[0].code: 'E6000001' is not a GSS code (a letter E, N, S or W and "
        "8 digits)",
        "local_authorities[0].districts[1]: 'ts2' is not a postcode district (an outward code "
        "in capitals, such as SM1 or SW1A)",
        "local_authorities[0].districts[2]: 'TS1 1AA' is not a postcode district (an outward "
        "code in capitals, such as SM1 or SW1A)",
        "local_authorities[2].name: ' Padded ': a name without leading or trailing spaces",
        "local_authorities[2].districts: List should have at least 1 item after validation, not 0",
        "local_authorities[2].colour: Extra inputs are not permitted",
    ]
    # Once each authority is well formed, the area as a whole is checked.
    document["local_authorities"][0].update(code="E06000001", districts=["TS1", "TS2"])
    document["local_authorities"].pop()
    assert problems_of(document) == [
        "local_authorities[1].name: 'North Test' is already local_authorities[0]",
        "local_authorities[1].districts[0]: TS1 is already in North Test: a district belongs "
        "to one local authority (the one it mostly lies in; say so in notes)",
        "notes.ZZ1: 'ZZ1' is not one of the area's districts",
    ]


def test_a_file_that_is_not_json_is_named_by_line_and_column() -> None:
    text = json.dumps(area_document(), indent=2).replace('"TS9"', '"TS9",')
    assert problems_of(text) == [
        "line 17, column 7: not JSON: Expecting value",
    ]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({}, "name: Field required"),
        (area_document(local_authorities=[]), "local_authorities: List should have at least 1"),
        (area_document(name=7), "name: Input should be a valid string"),
        ([], "expected a JSON object with name and local_authorities"),
    ],
)
def test_a_missing_or_mistyped_field_is_named(document: Any, problem: str) -> None:
    assert any(found.startswith(problem) for found in problems_of(document)), problems_of(document)


def test_an_unreadable_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ServiceAreaError, match="cannot be read: No such file"):
        read_service_area(tmp_path / "nowhere.json")
    binary = tmp_path / "area.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ServiceAreaError, match="not UTF-8 text"):
        read_service_area(binary)


def test_the_demo_file_and_the_test_region_are_each_read_once() -> None:
    assert load_service_area("") is load_service_area("")
    assert load_service_area(str(MANCHESTER)).source == str(MANCHESTER)
