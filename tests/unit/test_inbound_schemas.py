"""The inbound JSON Schemas accept the agencies' example payloads and reject broken ones."""

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "inbound"
FIXTURES = ROOT / "tests" / "fixtures" / "inbound"

JSON_FIXTURES = {
    "police": "police-vulnerability-referral.json",
    "fire": "fire-safe-and-well.json",
    "community": "community-referral.json",
    "fhir": "gp-servicerequest-bundle.json",
}
ALL_SCHEMAS = [*JSON_FIXTURES, "housing-row"]

NEED_CATEGORIES = [
    "loneliness-isolation", "mental-wellbeing", "bereavement", "housing",
    "money-debt-benefits", "employment-education", "physical-activity", "healthy-eating",
    "food-insecurity", "carer-support", "digital-inclusion", "hoarding", "safeguarding-concern",
]  # fmt: skip


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")
    )
    return schema


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / JSON_FIXTURES[name]).read_text(encoding="utf-8"))


def housing_rows() -> list[dict[str, str]]:
    # utf-8-sig strips a byte-order mark; newline="" lets csv handle Windows line endings.
    with (FIXTURES / "housing-tenancy-referrals.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def properties(schema: Any) -> Iterator[tuple[str, Any]]:
    """Every (name, subschema) under a "properties" keyword, at any depth.

    Subschemas that only select or match ("if", "contains") are not descriptions of fields.
    """
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("if", "contains"):
                continue
            if key == "properties":
                for name, sub in value.items():
                    yield name, sub
                    yield from properties(sub)
            else:
                yield from properties(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from properties(item)


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_valid_draft_2020_12_and_documented(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://referral-hub.org/schemas/inbound/{name}.schema.json"
    assert schema["title"] and schema["description"]
    undocumented = [n for n, sub in properties(schema) if "description" not in sub]
    assert not undocumented


@pytest.mark.parametrize("name", list(JSON_FIXTURES))
def test_example_payload_is_valid(name: str) -> None:
    assert list(validator(name).iter_errors(fixture(name))) == []


def test_every_housing_row_is_valid() -> None:
    rows = housing_rows()
    assert len(rows) == 2
    for row in rows:
        assert list(validator("housing-row").iter_errors(row)) == []


def without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.pop(key)


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__(key, value)


def as_lone_service_request(doc: dict[str, Any]) -> None:
    """Turn the example Bundle into its lone ServiceRequest, in place."""
    request = doc["entry"][0]["resource"]
    doc.clear()
    doc.update(request)


def lone_service_request_without_identifier(doc: dict[str, Any]) -> None:
    as_lone_service_request(doc)
    del doc["identifier"]


def test_lone_service_request_is_valid() -> None:
    doc = fixture("fhir")
    as_lone_service_request(doc)
    assert list(validator("fhir").iter_errors(doc)) == []


BROKEN = [
    # (schema, mutation of the example, expected error path, word in the message)
    ("police", without("occurrence_ref"), "$", "occurrence_ref"),
    ("police", setting("occurrence_ref", "  "), "$.occurrence_ref", "does not match"),
    ("police", setting("schema", "police-vulnerability-referral/2"), "$.schema", "was expected"),
    ("fire", setting("visit_id", 88231), "$.visit_id", "is not of type 'string'"),
    ("fire", setting("occupant", "Mrs Margaret O'Neill"), "$.occupant", "is not of type"),
    ("community", without("form_id"), "$", "form_id"),
    ("community", setting("needs", "loneliness"), "$.needs", "is not of type"),
    ("housing-row", without("landlord_ref"), "$", "landlord_ref"),
    ("fhir", setting("resourceType", "Patient"), "$.resourceType", "is not one of"),
    ("fhir", setting("type", "searchset"), "$.type", "is not one of"),
    ("fhir", lambda doc: doc["entry"].pop(0), "$.entry", "does not contain"),
    ("fhir", lambda doc: doc["entry"][0]["resource"].pop("identifier"), "$.entry[0].resource", "identifier"),
    ("fhir", lone_service_request_without_identifier, "$", "identifier"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "mutate", "path", "word"), BROKEN)
def test_broken_document_is_rejected_at_the_field(
    name: str, mutate: Callable[[Any], Any], path: str, word: str
) -> None:
    doc = housing_rows()[0] if name == "housing-row" else fixture(name)
    mutate(doc)
    errors = [(e.json_path, e.message) for e in validator(name).iter_errors(doc)]
    assert any(p == path and word in m for p, m in errors), errors


def test_need_category_codesystem_has_exactly_the_hub_codes_in_order() -> None:
    cs = json.loads((ROOT / "schemas" / "fhir" / "CodeSystem-need-category.json").read_text())
    assert cs["url"] == "https://referral-hub.org/fhir/CodeSystem/need-category"
    assert [c["code"] for c in cs["concept"]] == NEED_CATEGORIES
    assert all(c["display"] and c["definition"] for c in cs["concept"])
