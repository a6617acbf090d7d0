"""Every agency format refuses a version it does not know, naming `schema` and the versions it
accepts; one check (formats/versions.py) serves them all."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.adapters.formats.versions import SchemaVersions
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# The formats with a version marker, the version they are at, and an example message.
MARKED = {
    "community": ("community-referral/1", "community-referral.json"),
    "police": ("police-vulnerability-referral/1", "police-vulnerability-referral.json"),
    "fire": ("fire-safe-and-well/1", "fire-safe-and-well.json"),
}
# Formats whose messages carry no marker of their own (see services/intake/README.md).
UNMARKED = {"fhir", "housing"}


def example(source: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(inbound(MARKED[source][1]))
    return document


def read(source: str, document: Any) -> None:
    registered_formats()[source].read(json.dumps(document).encode(), RECEIVED)


def test_every_format_is_either_versioned_or_known_to_have_no_marker() -> None:
    formats = registered_formats()
    assert set(formats) == set(MARKED) | UNMARKED
    for source, (current, _) in MARKED.items():
        versions = formats[source].versions
        assert versions is not None and versions.field == "schema"
        assert versions.current == current
    assert all(formats[source].versions is None for source in UNMARKED)


@pytest.mark.parametrize("source", sorted(MARKED))
@pytest.mark.parametrize("version", ["/9", "/2", "-v1"])
def test_an_unknown_version_is_refused_naming_schema_and_the_accepted_ones(
    source: str, version: str
) -> None:
    current = MARKED[source][0]
    document = example(source)
    document["schema"] = current.split("/")[0] + version
    with pytest.raises(UnreadableMessage) as refused:
        read(source, document)
    assert refused.value.field == "schema"
    assert str(refused.value) == (
        f"unknown schema version {document['schema']!r}; this hub accepts {current}"
    )


@pytest.mark.parametrize("source", sorted(MARKED))
def test_another_formats_marker_is_an_unknown_version(source: str) -> None:
    other = next(v for s, (v, _) in MARKED.items() if s != source)
    document = example(source)
    document["schema"] = other
    with pytest.raises(UnreadableMessage) as refused:
        read(source, document)
    assert refused.value.field == "schema"


@pytest.mark.parametrize("source", sorted(MARKED))
@pytest.mark.parametrize("marker", ["current", " current ", None])
def test_the_current_version_or_no_marker_is_read(source: str, marker: str | None) -> None:
    document = example(source)
    if marker is None:
        document.pop("schema", None)
    else:
        document["schema"] = marker.replace("current", MARKED[source][0])
    read(source, document)  # no UnreadableMessage


@pytest.mark.parametrize("marker", [2, ["community-referral/1"], {"v": 1}])
def test_a_marker_that_is_not_text_is_refused_saying_what_it_is(marker: Any) -> None:
    document = example("community")
    document["schema"] = marker
    with pytest.raises(UnreadableMessage, match=r"unknown schema version 'a \w+'") as refused:
        read("community", document)
    assert refused.value.field == "schema"


def test_a_long_marker_is_cut_short_in_the_reason() -> None:
    with pytest.raises(UnreadableMessage) as refused:
        SchemaVersions(("x/1",)).check({"schema": "y" * 500})
    assert len(str(refused.value)) < 120


def test_a_format_with_two_versions_accepts_both_and_lists_both() -> None:
    versions = SchemaVersions(("x/1", "x/2"))
    versions.check({"schema": "x/1"})
    versions.check({"schema": "x/2"})
    with pytest.raises(UnreadableMessage, match="this hub accepts x/1, x/2"):
        versions.check({"schema": "x/3"})
    assert versions.current == "x/2"


def test_the_fhir_format_is_r4_whatever_the_body_says() -> None:
    """A FHIR resource does not name its FHIR release: its route and topic make it R4."""
    bundle = json.loads(inbound("gp-servicerequest-bundle.json"))
    [reading] = registered_formats()["fhir"].read(json.dumps(bundle).encode(), RECEIVED)
    assert reading.accepted, reading.issues


def test_the_housing_csv_is_identified_by_its_header_row() -> None:
    with pytest.raises(UnreadableMessage, match="no header row"):
        registered_formats()["housing"].read(b"schema,housing/2\nWHA-1,x\n", RECEIVED)
