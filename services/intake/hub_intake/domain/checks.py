"""Field rules every format shares: NHS numbers, postcodes, dates of birth."""

from __future__ import annotations

import calendar
import re
from datetime import date

from hub_common.region.service_area import district_of, service_area

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?) ?([0-9][A-Z]{2})$")


def clean_nhs_number(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw)


def nhs_number_is_valid(number: str) -> bool:
    """Modulus 11 check of a ten-digit NHS number (NHS Data Dictionary)."""
    if not re.fullmatch(r"[0-9]{10}", number):
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(number[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


def normalise_postcode(raw: str) -> str | None:
    """`sm1 1aa` -> `SM1 1AA`; None when it is not a UK postcode's shape."""
    match = _POSTCODE.match(re.sub(r"\s+", " ", raw.strip().upper()))
    if not match:
        compact = re.sub(r"\s", "", raw.upper())
        match = _POSTCODE.match(f"{compact[:-3]} {compact[-3:]}") if len(compact) >= 5 else None
    return f"{match.group(1)} {match.group(2)}" if match else None


def postcode_problem(raw: str | None) -> str | None:
    """Why a postcode cannot be accepted, or None when it can."""
    if raw is None or not raw.strip():
        return "a postcode is required"
    postcode = normalise_postcode(raw)
    if postcode is None:
        return "not a UK postcode"
    area = service_area()
    if not area.is_served(postcode):
        return (
            f"postcode district {district_of(postcode)} is outside the service area "
            f"'{area.name}', which the hub serves"
        )
    return None


class NoSuchDay(ValueError):
    """A date written in the right shape that names no day of the calendar (31/02/2030)."""


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_UK_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def parse_calendar_date(raw: str) -> date:
    """ISO `YYYY-MM-DD` or UK `DD/MM/YYYY`; raises ValueError saying what is wrong with it,
    down to a day the month does not have (`31/02/2030`)."""
    text = raw.strip()
    if iso := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in iso.groups())
    elif uk := _UK_DATE.fullmatch(text):
        day, month, year = (int(part) for part in uk.groups())
    else:
        raise ValueError("not a date: use YYYY-MM-DD or DD/MM/YYYY")
    if not 1 <= month <= 12:
        raise NoSuchDay(f"month {month} does not exist: months run from 1 to 12")
    if year < 1:
        raise NoSuchDay("year 0 does not exist")
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        month_year = f"{calendar.month_name[month]} {year}"
        raise NoSuchDay(f"{day} {month_year} does not exist: {month_year} has {days} days")
    return date(year, month, day)


def parse_birth_date(raw: str, today: date) -> date:
    """A date of birth (see parse_calendar_date) that is neither in the future nor over 120
    years ago; raises ValueError saying what is wrong."""
    born = parse_calendar_date(raw)
    if born > today:
        raise ValueError("date of birth is in the future")
    if (today.year - born.year) - ((today.month, today.day) < (born.month, born.day)) > 120:
        raise ValueError("date of birth makes the person over 120")
    return born
