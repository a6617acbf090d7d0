"""Everything the hub publishes validates against HL7's official FHIR R4 JSON Schema."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft6Validator

from hub_common.fhir.needs import NeedCategory
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats import registered_formats
from hub_router.adapters.fhir_task import task_snapshot
from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.domain.model import LinkWorker
from tests.support.fixtures import FIXTURES, inbound

EXAMPLES = {
    "community": "community-referral.json",
    "police": "police-vulnerability-referral.json",
    "fire": "fire-safe-and-well.json",
    "housing": "housing-tenancy-referrals.csv",
    "fhir": "gp-servicerequest-bundle.json",
}


@cache
def validator(resource_type: str) -> Draft6Validator:
    with gzip.open(FIXTURES / "fhir" / "fhir.schema.json.gz") as handle:
        schema = json.load(handle)
    return Draft6Validator(
        {
            "$schema": schema["$schema"],
            "$ref": f"#/definitions/{resource_type}",
            "definitions": schema["definitions"],
        }
    )


def errors(resource: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in validator(resource["resourceType"]).iter_errors(resource)
    ]


@pytest.mark.parametrize("source", sorted(registered_formats()))
def test_service_requests_from_every_format_validate(source: str) -> None:
    readings = registered_formats()[source].read(
        inbound(EXAMPLES[source]), datetime(2026, 11, 23, tzinfo=UTC)
    )
    accepted = [r.referral for r in readings if r.accepted and r.referral]
    assert accepted, f"the {source} example produced no accepted referral"
    for number, referral in enumerate(accepted):
        assert errors(to_service_request(referral, f"ref-{number}", "episode-1")) == []


def test_the_schema_catches_what_it_should() -> None:
    assert errors(
        {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "bogus": 1}
    )
    assert errors({"resourceType": "ServiceRequest", "intent": "order"})  # status is required


def test_task_snapshots_validate() -> None:
    task = task_snapshot(
        referral_id="ref-1",
        episode_id="episode-1",
        version=3,
        status="on-hold",
        business_status="contact-attempted",
        owner="lw-1",
        requester={
            "type": "Organization",
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                "value": "H85001",
            },
        },
        referrer_identifier={
            "system": "https://referral-hub.org/fhir/Id/referrer-ref/fhir",
            "value": "X",
        },
        authored_on="2026-11-23T09:00:00+00:00",
        last_modified=datetime(2026, 11, 23, 10, tzinfo=UTC),
        status_reason="person asked to pause",
    )
    assert errors(task) == []


def test_directory_entries_validate() -> None:
    worker = LinkWorker(
        "lw-1",
        boroughs=frozenset({"Sutton"}),
        postcode_districts=frozenset({"SM1"}),
        needs=frozenset({NeedCategory.HOARDING}),
        languages=frozenset({"en", "so"}),
    )
    assert errors(to_practitioner_role(worker, "Test Name", "t@example.org")) == []


def test_a_name_without_given_names_has_no_empty_array() -> None:
    from dataclasses import replace

    [reading] = registered_formats()["community"].read(
        inbound(EXAMPLES["community"]), datetime(2026, 11, 23, tzinfo=UTC)
    )
    assert reading.referral is not None
    nameless = replace(reading.referral, person=replace(reading.referral.person, given_names=()))
    request = to_service_request(nameless, "ref-1", "episode-1")
    assert errors(request) == []


def test_a_risk_to_visitors_becomes_a_contained_safety_flag() -> None:
    [reading] = registered_formats()["police"].read(
        inbound(EXAMPLES["police"]), datetime(2026, 11, 23, tzinfo=UTC)
    )
    assert reading.referral is not None and reading.referral.risk_to_visitors == "medium"
    request = to_service_request(reading.referral, "ref-1", "episode-1")
    flag = next(r for r in request["contained"] if r["resourceType"] == "Flag")
    assert {"reference": "#risk-to-visitors"} in request["supportingInfo"]
    assert flag["code"]["text"] == "Risk to visiting staff: medium"
    assert errors(request) == []


@pytest.mark.parametrize("name", ["hsds3-service.json", "oruk1-service.json"])
def test_directory_service_bundles_validate(name: str) -> None:
    from hub_cli.directory.oruk import read_service
    from hub_common.region.directory import DirectoryService, to_bundle

    record = json.loads((FIXTURES / "directory" / name).read_text())
    for status in ("active", "temporarily closed"):
        service = read_service(dict(record, status=status), "swl-services.json")
        assert isinstance(service, DirectoryService)
        bundle = to_bundle(service)
        assert errors(bundle) == []
        for entry in bundle["entry"]:
            assert errors(entry["resource"]) == []


def test_the_directory_conformance_resources_are_published_and_match_the_code() -> None:
    from hub_common.region import directory

    schemas = FIXTURES.parents[1] / "schemas" / "fhir"
    cost = json.loads((schemas / "CodeSystem-service-cost.json").read_text())
    assert errors(cost) == []
    assert cost["url"] == directory.SERVICE_COST_SYSTEM
    assert {c["code"]: c["display"] for c in cost["concept"]} == directory.COST_DISPLAY
    for name, url in (
        ("StructureDefinition-eligible-age.json", directory.ELIGIBLE_AGE_URL),
        ("StructureDefinition-cost-option.json", directory.COST_OPTION_URL),
    ):
        definition = json.loads((schemas / name).read_text())
        # The official R4 JSON Schema's fhirVersion list stops at 3.5.0 (a known slip in it).
        assert [e for e in errors(definition) if not e.startswith("fhirVersion:")] == []
        assert definition["url"] == url
