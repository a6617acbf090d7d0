from datetime import date

import pytest

from hub_intake.domain.checks import (
    nhs_number_is_valid,
    normalise_postcode,
    parse_birth_date,
    postcode_problem,
)


@pytest.mark.parametrize("number", ["9434765919", "9434765870", "4010232137"])
def test_valid_nhs_numbers_pass_modulus_11(number: str) -> None:
    assert nhs_number_is_valid(number)


@pytest.mark.parametrize(
    "number",
    ["9434765918", "943476591", "94347659190", "abcdefghij", "1234567890", ""],
)
def test_invalid_nhs_numbers_fail(number: str) -> None:
    # 1234567890 has check digit 10, which no valid number can have.
    assert not nhs_number_is_valid(number)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sm1 1aa", "SM1 1AA"),
        ("  CR7   8RS ", "CR7 8RS"),
        ("sw191ab", "SW19 1AB"),
        ("SE25 6XY", "SE25 6XY"),
    ],
)
def test_postcodes_are_normalised(raw: str, expected: str) -> None:
    assert normalise_postcode(raw) == expected


def test_postcode_outside_south_west_london_is_refused_with_the_district() -> None:
    assert postcode_problem("M1 1AE") == (
        "postcode district M1 is outside the service area 'South West London', which the hub serves"
    )
    assert postcode_problem("not a postcode") == "not a UK postcode"
    assert postcode_problem("  ") == "a postcode is required"
    assert postcode_problem("cr7 8rs") is None


def test_birth_dates_in_iso_and_uk_forms() -> None:
    today = date(2026, 11, 23)
    assert parse_birth_date("1972-07-08", today) == date(1972, 7, 8)
    assert parse_birth_date("08/07/1972", today) == date(1972, 7, 8)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2027-01-01", "future"),
        ("01/01/1900", "over 120"),
        ("31/02/1980", "^31 February 1980 does not exist: February 1980 has 29 days$"),
        ("31/02/2030", "^31 February 2030 does not exist: February 2030 has 28 days$"),
        ("2023-02-29", "^29 February 2023 does not exist"),
        ("31/04/1990", "^31 April 1990 does not exist: April 1990 has 30 days$"),
        ("01/13/1990", "^month 13 does not exist"),
        ("23/11/2026", None),
        ("24/11/2026", "^date of birth is in the future$"),
        ("2030-01-01", "^date of birth is in the future$"),
        ("yesterday", "not a date"),
        ("1990-01-01T10:00", "not a date"),
    ],
)
def test_impossible_birth_dates_say_why(raw: str, reason: str | None) -> None:
    if reason is None:  # today itself is not in the future
        assert parse_birth_date(raw, date(2026, 11, 23)) == date(2026, 11, 23)
        return
    with pytest.raises(ValueError, match=reason):
        parse_birth_date(raw, date(2026, 11, 23))
