"""What agencies send, read as they meant it: full names written in one string (fire
services, landlords, FHIR `name.text`) keep their particles and double barrels; a
byte-order mark is tolerated in every format; Latin-1 text and semicolon CSV are told what
was found and what is expected."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.adapters.formats.names import split_full_name
from tests.support.fixtures import inbound
from tests.support.variants import EXAMPLES


@pytest.mark.parametrize(
    ("full", "given", "family"),
    [
        ("Mr Dafydd ap Gruffydd", ("Dafydd",), "ap Gruffydd"),
        ("Rhys ab Owen", ("Rhys",), "ab Owen"),
        ("Ludwig van der Berg", ("Ludwig",), "van der Berg"),
        ("Dr Ursula von Trapp", ("Ursula",), "von Trapp"),
        ("Maria de la Cruz", ("Maria",), "de la Cruz"),
        ("Joana da Silva", ("Joana",), "da Silva"),
        ("Marco Di Stefano", ("Marco",), "Di Stefano"),
        ("Anne-Marie le Breton", ("Anne-Marie",), "le Breton"),
        ("Mrs Margaret O'Neill", ("Margaret",), "O'Neill"),
        ("Sean O' Brien", ("Sean",), "O' Brien"),
        ("Ian Mac Donald", ("Ian",), "Mac Donald"),
        ("Anna Smith-Jones", ("Anna",), "Smith-Jones"),
        ("Mary Ann Jones", ("Mary", "Ann"), "Jones"),
        ("Chen, Li", ("Li",), "Chen"),
    ],
)
def test_particles_and_double_barrelled_names_survive(
    full: str, given: tuple[str, ...], family: str
) -> None:
    assert split_full_name(full) == (given, family)


RECEIVED = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def refusal(source: str, body: bytes) -> str:
    with pytest.raises(UnreadableMessage) as refused:
        registered_formats()[source].read(body, RECEIVED)
    return str(refused.value)


def test_latin1_json_is_told_the_byte_and_the_encoding_expected() -> None:
    body = inbound("community-referral.json").decode().replace("Gloria", "Zoë").encode("latin-1")
    said = refusal("community", body)
    assert "0xEB" in said and "Latin-1" in said and "UTF-8" in said
    assert "surrogates" not in said


def test_a_semicolon_csv_is_told_its_delimiter_not_that_it_has_no_header() -> None:
    body = inbound("housing-tenancy-referrals.csv").replace(b",", b";")
    said = refusal("housing", body)
    assert "semicolons" in said and "commas" in said


@pytest.mark.parametrize(
    "source",
    ["community", "police", "fire", "fhir", "housing"],
)
def test_a_byte_order_mark_is_accepted_in_every_format(source: str) -> None:
    body = b"\xef\xbb\xbf" + inbound(EXAMPLES[source])
    readings = registered_formats()[source].read(body, RECEIVED)
    assert readings and all(reading.accepted for reading in readings)
