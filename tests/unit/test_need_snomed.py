"""Need categories carry SNOMED CT concepts; GP reasons coded in SNOMED CT are understood."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.conceptmap import ConceptMap
from fhir.resources.R4B.servicerequest import ServiceRequest

from hub_common.fhir.needs import (
    NEED_CATEGORY_SYSTEM,
    NEED_SNOMED,
    SNOMED_NEED,
    NeedCategory,
    snomed_concept_map,
)
from hub_common.fhir.systems import SNOMED
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import Reading
from hub_intake.adapters.formats.community import CommunityFormat
from hub_intake.adapters.formats.fhir_bundle import FhirBundleFormat
from hub_router.adapters.service_request import read_service_request
from tests.support.fixtures import inbound

from .test_fhir_r4_schema import errors as r4_schema_errors

RECEIVED = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
REASONS = "Bundle.entry[ServiceRequest].reasonCode"
# The categories with a confirmed International Edition concept (see hub_common/fhir/needs.py).
MAPPED = {
    NeedCategory.LONELINESS_ISOLATION: "422650009",
    NeedCategory.HOUSING: "105531004",
    NeedCategory.MONEY_DEBT_BENEFITS: "160932005",
    NeedCategory.EMPLOYMENT_EDUCATION: "73438004",
    NeedCategory.PHYSICAL_ACTIVITY: "40979000",
    NeedCategory.FOOD_INSECURITY: "733423003",
    NeedCategory.CARER_SUPPORT: "302767002",
}


def gp_bundle(*reasons: dict[str, Any]) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(inbound("gp-servicerequest-bundle.json"))
    request = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    )
    request["reasonCode"] = list(reasons)
    return bundle


def read(bundle: dict[str, Any]) -> Reading:
    [reading] = FhirBundleFormat().read(json.dumps(bundle).encode(), RECEIVED)
    return reading


def snomed(code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": SNOMED, "code": code}
    return {"coding": [coding | ({"display": display} if display else {})]}


def test_the_mapping_is_the_checked_one_and_international_only() -> None:
    assert {category: concept.code for category, concept in NEED_SNOMED.items()} == MAPPED
    for concept in NEED_SNOMED.values():
        # The US extension's namespace 1000124: its concepts are not in the UK edition.
        assert "1000124" not in concept.code[-10:]
        assert concept.display and "(" not in concept.display  # preferred term, not the FSN
        assert concept.source and concept.equivalence in {"equivalent", "narrower"}
    assert {SNOMED_NEED[code] for code in MAPPED.values()} == set(MAPPED)


def test_the_concept_map_has_every_category_and_is_valid_r4() -> None:
    document = snomed_concept_map()
    ConceptMap.model_validate(document)
    assert r4_schema_errors(document) == []
    [group] = document["group"]
    assert (group["source"], group["target"]) == (NEED_CATEGORY_SYSTEM, SNOMED)
    targets = {element["code"]: element["target"] for element in group["element"]}
    assert list(targets) == [category.value for category in NeedCategory]
    for category in NeedCategory:
        [target] = targets[category.value]
        if category in MAPPED:
            assert target["code"] == MAPPED[category]
        else:
            assert target["equivalence"] == "unmatched" and "code" not in target
        # R4 cmd-1: a narrower or unmatched map says why.
        if target["equivalence"] != "equivalent":
            assert target["comment"]


def test_every_emitted_need_carries_the_hub_code_and_its_snomed_concept() -> None:
    body = json.dumps(
        {**json.loads(inbound("community-referral.json")), "needs": ["loneliness", "hoarding"]}
    ).encode()
    [reading] = CommunityFormat().read(body, RECEIVED)
    assert reading.referral is not None, reading.issues
    request = to_service_request(reading.referral, "ref-1", "ep-1")
    ServiceRequest.model_validate(request)
    assert r4_schema_errors(request) == []
    codings = [concept["coding"] for concept in request["reasonCode"]]
    assert codings[0] == [
        {
            "system": NEED_CATEGORY_SYSTEM,
            "code": "loneliness-isolation",
            "display": "Loneliness or social isolation",
        },
        {"system": SNOMED, "code": "422650009", "display": "Social isolation"},
    ]
    # Hoarding has no confirmed SNOMED CT concept: the hub's code alone.
    assert [c["system"] for c in codings[1]] == [NEED_CATEGORY_SYSTEM]
    # The router still reads the needs from the hub's codes.
    facts = read_service_request(request)
    assert facts.route.needs == frozenset(
        {NeedCategory.LONELINESS_ISOLATION, NeedCategory.HOARDING}
    )


def test_a_gp_referral_with_only_snomed_reasons_yields_the_hub_needs() -> None:
    reading = read(
        gp_bundle(
            snomed("422650009", "Social isolation"),
            {**snomed("160932005"), "text": "Cannot pay the gas bill"},
            snomed("733423003"),
        )
    )
    assert reading.accepted, reading.issues
    assert reading.issues == []
    assert reading.referral is not None
    assert [(n.category, n.text) for n in reading.referral.needs] == [
        (NeedCategory.LONELINESS_ISOLATION, "Social isolation"),
        (NeedCategory.MONEY_DEBT_BENEFITS, "Cannot pay the gas bill"),
        (NeedCategory.FOOD_INSECURITY, "Food insecurity"),  # no words sent: the concept's term
    ]
    request = to_service_request(reading.referral, "ref-1", "ep-1")
    assert request["reasonCode"][1]["coding"] == [
        {
            "system": NEED_CATEGORY_SYSTEM,
            "code": "money-debt-benefits",
            "display": "Money, debt or benefits",
        },
        {"system": SNOMED, "code": "160932005", "display": "Financial problem"},
    ]


def test_a_hub_code_beside_a_snomed_code_names_the_need_once() -> None:
    reason = snomed("422650009", "Social isolation")
    reason["coding"].insert(0, {"system": NEED_CATEGORY_SYSTEM, "code": "loneliness-isolation"})
    reading = read(gp_bundle(reason))
    assert reading.referral is not None
    assert [n.category for n in reading.referral.needs] == [NeedCategory.LONELINESS_ISOLATION]


@pytest.mark.parametrize(
    ("display", "category"),
    [("Low mood", NeedCategory.MENTAL_WELLBEING), ("Fractured wrist", None)],
)
def test_an_unknown_snomed_reason_is_kept_with_a_warning_naming_the_coding(
    display: str, category: NeedCategory | None
) -> None:
    reading = read(gp_bundle(snomed("422650009"), snomed("394924000", display)))
    assert reading.accepted, reading.issues
    [warning] = reading.issues
    assert warning.severity == "warning"
    assert warning.field == f"{REASONS}[1].coding"
    assert "394924000" in warning.message
    assert all(code in warning.message for code in MAPPED.values())
    assert reading.referral is not None
    kept = reading.referral.needs[1]
    assert (kept.category, kept.text, kept.snomed_code) == (category, display, "394924000")
    # The GP's own code travels on to the link worker, beside the hub's code if the words had one.
    request = to_service_request(reading.referral, "ref-1", "ep-1")
    assert {"system": SNOMED, "code": "394924000", "display": display} in request["reasonCode"][1][
        "coding"
    ]
    assert r4_schema_errors(request) == []


def test_free_words_without_codes_are_still_mapped() -> None:
    reading = read(gp_bundle({"text": "Lonely since bereavement, rent arrears"}))
    assert reading.referral is not None and reading.issues == []
    assert [n.category for n in reading.referral.needs] == [
        NeedCategory.LONELINESS_ISOLATION,
        NeedCategory.BEREAVEMENT,
        NeedCategory.MONEY_DEBT_BENEFITS,
    ]
    assert all(n.snomed_code is None for n in reading.referral.needs)


def test_the_readme_table_shows_the_mapping_in_the_code() -> None:
    readme = (Path(__file__).resolve().parents[2] / "schemas" / "fhir" / "README.md").read_text()
    for category in NeedCategory:
        concept = NEED_SNOMED.get(category)
        shown = f"| `{concept.code}` | {concept.display} |" if concept else "| — | — | unmatched |"
        assert f"| `{category.value}` {shown}" in readme, category
