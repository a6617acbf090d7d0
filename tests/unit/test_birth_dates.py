"""Every format refuses a birth date that names no day, or one in the future, saying which."""

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.formats.base import Reading
from hub_intake.adapters.formats.reading import FieldReader
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def json_example(name: str, path: tuple[str, ...]) -> Callable[[str], bytes]:
    def with_birth_date(value: str) -> bytes:
        document: dict[str, Any] = json.loads(inbound(name))
        *parents, leaf = path
        holder = document
        for part in parents:
            holder = holder[part]
        holder[leaf] = value
        return json.dumps(document).encode()

    return with_birth_date


def fhir_example(value: str) -> bytes:
    bundle = json.loads(inbound("gp-servicerequest-bundle.json"))
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    patient["birthDate"] = value
    return json.dumps(bundle).encode()


def housing_example(value: str) -> bytes:
    rows = list(
        csv.reader(io.StringIO(inbound("housing-tenancy-referrals.csv").decode("utf-8-sig")))
    )
    column = rows[0].index("date_of_birth")
    rows[1][column] = value
    out = io.StringIO()
    csv.writer(out).writerows(rows[:2])
    return out.getvalue().encode()


# source -> (a message with the given birth date, the field that holds it)
FORMATS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "community": (
        json_example("community-referral.json", ("person", "date_of_birth")),
        "person.date_of_birth",
    ),
    "police": (
        json_example("police-vulnerability-referral.json", ("subject", "date_of_birth")),
        "subject.date_of_birth",
    ),
    "fire": (json_example("fire-safe-and-well.json", ("occupant", "dob")), "occupant.dob"),
    "fhir": (fhir_example, "Patient.birthDate"),
    "housing": (housing_example, "date_of_birth"),
}


def first_reading(source: str, birth_date: str) -> Reading:
    message, _ = FORMATS[source]
    return registered_formats()[source].read(message(birth_date), RECEIVED)[0]


def refusal(source: str, birth_date: str) -> str:
    reading = first_reading(source, birth_date)
    assert not reading.accepted
    field = FORMATS[source][1]
    [message] = [i.message for i in reading.issues if i.is_error and i.field == field]
    return message


def test_every_format_is_covered() -> None:
    assert set(FORMATS) == set(registered_formats())


@pytest.mark.parametrize("source", sorted(FORMATS))
def test_a_day_the_month_does_not_have_is_refused_as_such(source: str) -> None:
    # FHIR writes dates in ISO form; the agencies' own formats mostly in the UK one.
    day = "2030-02-31" if source == "fhir" else "31/02/2030"
    assert refusal(source, day) == "31 February 2030 does not exist: February 2030 has 28 days"


@pytest.mark.parametrize("source", sorted(FORMATS))
def test_a_birth_date_in_the_future_is_refused_as_such(source: str) -> None:
    assert refusal(source, "2026-11-24") == "date of birth is in the future"


@pytest.mark.parametrize("source", sorted(FORMATS))
def test_a_real_past_birth_date_is_carried(source: str) -> None:
    reading = first_reading(source, "1980-02-29")
    assert reading.accepted, reading.issues
    assert reading.referral is not None
    assert str(reading.referral.person.birth_date) == "1980-02-29"


def test_other_dates_say_the_day_does_not_exist_too() -> None:
    issues: list[Any] = []
    reader = FieldReader({"visited_on": "30/02/2026", "reported_at": "2026-02-30T10:00"}, issues)
    assert reader.moment("visited_on") is None
    assert reader.moment("reported_at") is None
    assert [(i.field, i.message) for i in issues] == [
        ("visited_on", "30 February 2026 does not exist: February 2026 has 28 days"),
        ("reported_at", "not a date-time (ISO 8601) or a date (DD/MM/YYYY)"),
    ]
