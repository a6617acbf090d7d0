"""A new agency format is its reader module plus one registration line: the hub derives its
topics, consumers, JSON Schema, example, NamingSystem and label from the registry.

The proof registers a made-up format (a parish council's JSON referral) in the test alone, and
sees everything a format needs appear, then disappear when it is taken out again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hub_common.agency_formats import (
    AgencyFormat,
    agency_format,
    agency_formats,
    inbound_sources,
    register,
    registered,
)
from hub_common.messaging.topics import Topics
from hub_intake.adapters.formats import reader_of, registered_formats
from hub_intake.adapters.formats.base import Reading, ReferrerContact
from hub_web.domain.naming import source_label
from hub_web.service_layer.referrer_desk import _media_type

FORMATS_PACKAGE = (
    Path(__file__).resolve().parents[2] / "services/intake/hub_intake/adapters/formats"
)
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://referral-hub.org/schemas/inbound/parish.schema.json",
    "title": "Parish council referral (parish-referral/1)",
    "description": "A made-up format, registered by a test.",
    "type": "object",
    "required": ["parish_ref"],
    "properties": {"parish_ref": {"description": "The parish's reference.", "type": "string"}},
}
EXAMPLE = {"parish_ref": "PC-0042", "note": "Mrs Example would like company"}


class ParishFormat:
    """Reads a parish council's referral: enough of a reader to prove the registration."""

    source = "parish"
    json_schema_file = Path("unset")  # set by the fixture to a file it writes
    example_file = Path("unset")
    versions = None

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        document = json.loads(body)
        return [Reading(document["parish_ref"], document, ReferrerContact("Parish council"))]


PARISH = AgencyFormat(
    source="parish",
    label="Parish council referral",
    reader=f"{__name__}:ParishFormat",
)


@pytest.fixture
def parish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AgencyFormat]:
    schema = tmp_path / "parish.schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    example = tmp_path / "parish-referral.json"
    example.write_text(json.dumps(EXAMPLE), encoding="utf-8")
    monkeypatch.setattr(ParishFormat, "json_schema_file", schema)
    monkeypatch.setattr(ParishFormat, "example_file", example)
    with registered(PARISH) as fmt:
        yield fmt


def test_a_registered_format_gets_its_topics(parish: AgencyFormat) -> None:
    topics = Topics("t.")
    assert "parish" in inbound_sources()
    assert topics.inbound("parish") == "t.referrals.inbound.parish"
    assert "t.referrals.inbound.parish" in topics.all()
    assert topics.is_inbound("t.referrals.inbound.parish")
    # Its agencies' status topics are made on demand, one per agency.
    status = topics.agency_status("parish", "urn:x|St Mary's PCC")
    assert status.startswith("t.referrals.status.parish.")
    assert topics.is_agency_status(status)


def test_a_registered_format_is_read_by_intake(parish: AgencyFormat) -> None:
    reader = registered_formats()["parish"]
    assert isinstance(reader, ParishFormat)
    [reading] = reader.read(json.dumps(EXAMPLE).encode(), datetime.now())
    assert reading.referrer_reference == "PC-0042"


def test_a_registered_format_gets_its_schema_example_and_naming_system(
    parish: AgencyFormat,
) -> None:
    from hub_cli.main import contract_documents

    documents = contract_documents()
    assert json.loads(documents["inbound/parish.schema.json"]) == SCHEMA
    assert json.loads(documents["examples/referrals.inbound.parish.json"]) == EXAMPLE
    naming = documents["fhir/NamingSystem-referrer-ref-parish.json"]
    assert naming["uniqueId"][0]["value"] == "https://referral-hub.org/fhir/Id/referrer-ref/parish"
    # intake subscribes to its topic, so the AsyncAPI document shows it
    channels = documents["asyncapi/intake.json"]["channels"].values()
    assert "referrals.inbound.parish" in {channel["address"] for channel in channels}


def test_a_registered_format_gets_its_label(parish: AgencyFormat) -> None:
    assert source_label("parish") == "Parish council referral"


def test_taken_out_again_it_leaves_no_trace() -> None:
    with registered(PARISH):
        assert "parish" in inbound_sources()
    assert "parish" not in inbound_sources()
    assert "referrals.inbound.parish" not in Topics().all()
    with pytest.raises(ValueError, match="unknown inbound source 'parish'"):
        Topics().inbound("parish")
    assert source_label("parish") == "Parish referral"


def test_the_shipped_formats_in_their_order() -> None:
    assert inbound_sources() == ("fhir", "police", "fire", "housing", "community")
    assert agency_format("housing").media_type == "text/csv"
    # the web app uploads a corrected referral in its format's media type
    assert _media_type("housing") == "text/csv"
    assert _media_type("community") == "application/json"
    assert _media_type("carrier-pigeon") == "application/json"  # intake will refuse it


def test_every_registered_reader_resolves_reads_its_own_source_and_has_its_files() -> None:
    for fmt in agency_formats():
        reader = reader_of(fmt)
        assert reader.source == fmt.source
        assert reader.json_schema_file.is_file(), fmt.source
        assert reader.example_file.is_file(), fmt.source


def test_every_reader_module_in_intake_is_registered() -> None:
    """A reader module written but never registered would silently read nothing."""
    registered_modules = {fmt.reader.split(":")[0].rsplit(".", 1)[-1] for fmt in agency_formats()}
    readers = {
        path.stem
        for path in FORMATS_PACKAGE.glob("*.py")
        if re.search(r"\n    source = \"", path.read_text(encoding="utf-8"))
    }
    assert readers and readers == registered_modules


def test_a_second_format_with_a_registered_source_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(AgencyFormat("police", "Another police referral", "x.y:Z"))


@pytest.mark.parametrize(
    ("source", "reader", "error"),
    [
        ("Parish Council", "x:Y", "lower-case letters"),
        ("parish", "x.Y", "module:attribute"),
    ],
)
def test_a_malformed_registration_is_refused(source: str, reader: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        AgencyFormat(source, "A referral", reader)


def test_a_reader_for_another_source_is_refused() -> None:
    misnamed = AgencyFormat("vicarage", "Vicarage referral", PARISH.reader)
    with pytest.raises(ValueError, match="reads 'parish'"):
        reader_of(misnamed)
