"""Whatever an agency sends, every registered format answers and loses nothing.

Each message is either unreadable as a whole (UnreadableMessage), or every referral in it is
accepted XOR refused with at least one error naming a field; an accepted one is valid FHIR R4.
"""

import copy
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_common.jsonio import dumps
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.formats.base import InboundFormat, Reading, UnreadableMessage
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FORMATS = registered_formats()
EXAMPLES = {
    "community": "community-referral.json",
    "fhir": "gp-servicerequest-bundle.json",
    "police": "police-vulnerability-referral.json",
    "fire": "fire-safe-and-well.json",
    "housing": "housing-tenancy-referrals.csv",
}
JSON_SOURCES = sorted(s for s in FORMATS if EXAMPLES[s].endswith(".json"))
FEW = settings(max_examples=60, deadline=None)
MANY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values agencies really send, so mangled documents also reach the deeper rules.
TRICKY = st.sampled_from(
    [
        "", " ", "yes", "No", "Y", "true", "none", "HIGH", "sm1 1aa", "M1 1AE", "CR0", "1968",
        "31/02/1980", "03/02/1939", "2026-11-23T09:12:00Z", "2026-11-23T09:12:00+05:30:15",
        "9434765919", "9434765918", "active", "deny", "#patient", "urn:uuid:x", "Mrs", "Mr X",
        "en  gb", "\u2028", "£1,240.50", "1e999999", "hoarding", "a;b;;c",
    ]
)  # fmt: skip
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | TRICKY
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


def example(source: str) -> bytes:
    return inbound(EXAMPLES[source])


def answer(fmt: InboundFormat, body: bytes) -> list[Reading] | None:
    """The readings, checked; None when the message as a whole is unreadable."""
    try:
        readings = fmt.read(body, RECEIVED)
    except UnreadableMessage:
        return None
    for reading in readings:
        refused = any(issue.is_error for issue in reading.issues)
        assert (reading.referral is not None) != refused, reading.issues  # accepted XOR refused
        assert reading.accepted == (not refused)
        assert all(issue.field and issue.message for issue in reading.issues)
        dumps(reading.original)  # kept for replay, so it must stay JSON
        if reading.referral is not None:
            ServiceRequest.model_validate(to_service_request(reading.referral, "r-1", "e-1"))
    return readings


def test_every_registered_format_has_an_example_here() -> None:
    assert set(FORMATS) <= set(EXAMPLES)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key or index path in a JSON document, outermost first."""
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        return []
    found: list[tuple[Any, ...]] = []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mangled(draw: st.DrawFn, document: Any) -> Any:
    """The document with one to four fields replaced by random JSON or deleted."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        if not paths:
            break
        *parent_path, last = draw(st.sampled_from(paths))
        parent = document
        for key in parent_path:
            parent = parent[key]
        if draw(st.booleans()):
            parent[last] = draw(TRICKY | JSON_VALUES)
        else:
            del parent[last]
    return document


@pytest.mark.parametrize("source", JSON_SOURCES)
@MANY
@given(data=st.data())
def test_mangled_json_documents_are_answered(source: str, data: st.DataObject) -> None:
    document = data.draw(mangled(json.loads(example(source))))
    readings = answer(FORMATS[source], json.dumps(document).encode())
    assert readings is None or len(readings) == 1


@pytest.mark.parametrize("source", sorted(FORMATS))
@FEW
@given(body=st.binary(max_size=300))
def test_random_bytes_are_answered(source: str, body: bytes) -> None:
    answer(FORMATS[source], body)


@pytest.mark.parametrize("source", sorted(FORMATS))
@FEW
@given(data=st.data())
def test_truncated_documents_are_answered(source: str, data: st.DataObject) -> None:
    body = example(source)
    answer(FORMATS[source], body[: data.draw(st.integers(0, len(body) - 1))])


HOUSING_ROWS = list(csv.reader(io.StringIO(example("housing").decode(), newline="")))
HEADER, EXAMPLE_ROWS = HOUSING_ROWS[0], HOUSING_ROWS[1:]


@st.composite
def housing_rows(draw: st.DrawFn) -> list[list[str]]:
    """Rows based on the example's, with cells replaced, dropped or added at random."""
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        row = list(draw(st.sampled_from(EXAMPLE_ROWS)))
        for index in draw(st.lists(st.integers(0, len(row) - 1), max_size=4)):
            row[index] = draw(TEXT | TRICKY)
        if draw(st.integers(0, 5)) == 0:
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(TEXT, max_size=2))
        rows.append(row)
    return rows


@MANY
@given(
    rows=housing_rows(),
    bom=st.booleans(),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_every_housing_row_gets_exactly_one_answer(
    rows: list[list[str]], bom: bool, line_end: str
) -> None:
    text = io.StringIO()
    # Written with \r\n so that csv quotes every cell holding \r or \n, then line endings
    # changed: an unquoted \r would end the row for any CSV reader, not only ours.
    csv.writer(text, lineterminator="\r\n").writerows([HEADER, *rows])
    document = text.getvalue().replace("\r\n", line_end)
    body = (b"\xef\xbb\xbf" if bom else b"") + document.encode()
    readings = answer(FORMATS["housing"], body)
    data_rows = [row for row in rows if any(cell.strip() for cell in row)]  # blank rows skipped
    if not data_rows:
        assert readings is None  # a header alone is no referral
        return
    assert readings is not None and len(readings) == len(data_rows)
    lines = [int(reading.item.removeprefix("row ")) for reading in readings if reading.item]
    assert len(lines) == len(readings) and lines == sorted(set(lines)) and lines[0] >= 2
