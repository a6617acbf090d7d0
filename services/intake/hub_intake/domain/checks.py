"""Field rules every format shares: NHS numbers, postcodes, dates of birth."""

from __future__ import annotations

import re
from datetime import date, datetime

from hub_common.service_area import district_of, is_served

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
    if not is_served(postcode):
        district = district_of(postcode)
        return f"postcode district {district} is outside South West London, which the hub serves"
    return None


def parse_birth_date(raw: str, today: date) -> date:
    """ISO `YYYY-MM-DD` or UK `DD/MM/YYYY`; raises ValueError saying what is wrong."""
    text = raw.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            born = datetime.strptime(text, pattern).date()
            break
        except ValueError:
            continue
    else:
        raise ValueError("not a date: use YYYY-MM-DD or DD/MM/YYYY")
    if born > today:
        raise ValueError("date of birth is in the future")
    if (today.year - born.year) - ((today.month, today.day) < (born.month, born.day)) > 120:
        raise ValueError("date of birth makes the person over 120")
    return born
