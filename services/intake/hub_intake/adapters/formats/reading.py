"""Reading loosely-typed agency JSON while collecting every problem, each naming its field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from hub_common.fhir.outcome import Issue
from hub_intake.domain.checks import (
    NoSuchDay,
    clean_nhs_number,
    nhs_number_is_valid,
    normalise_postcode,
    parse_birth_date,
    parse_calendar_date,
    postcode_problem,
)

Choice = TypeVar("Choice", bound=str)

# BCP 47 in outline (language, then subtags): enough to keep free text out of a FHIR `code`.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


class FieldReader:
    """Reads fields by dotted path; records an Issue for each missing or malformed one."""

    def __init__(self, data: Any, issues: list[Issue]) -> None:
        self._data = data
        self.issues = issues

    def raw(self, path: str) -> Any:
        value: Any = self._data
        for part in path.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    def text(self, path: str) -> str | None:
        """A string with spaces trimmed; empty strings count as missing."""
        value = self.raw(path)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.issues.append(Issue(path, "expected text", code="value"))
            return None
        return value.strip() or None

    def required_text(self, path: str, what: str) -> str | None:
        value = self.text(path)
        if value is None and not any(issue.field == path for issue in self.issues):
            self.issues.append(Issue(path, f"{what} is required", code="required"))
        return value

    def flag(self, path: str) -> bool | None:
        """A yes/no answer given as a boolean or as words such as Y, yes, true."""
        value = self.raw(path)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip():
            word = value.strip().lower()
            if word in ("y", "yes", "true", "1"):
                return True
            if word in ("n", "no", "false", "0"):
                return False
            self.issues.append(Issue(path, "expected yes or no", code="value"))
        return None

    def string_list(self, path: str) -> list[str]:
        value = self.raw(path)
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        if not isinstance(value, list):
            self.issues.append(Issue(path, "expected a list", code="value"))
            return []
        return [
            str(item).strip()
            for item in value
            if isinstance(item, (str, int)) and str(item).strip()
        ]

    def birth_date(self, path: str, today: date) -> date | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            return parse_birth_date(value, today)
        except ValueError as error:
            self.issues.append(Issue(path, str(error), code="value"))
            return None

    def timestamp(self, path: str) -> datetime | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.issues.append(Issue(path, "not an ISO 8601 date-time", code="value"))
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def moment(self, path: str) -> datetime | None:
        """An ISO 8601 date-time, or a date alone (ISO or UK `DD/MM/YYYY`) meaning midnight UTC.

        Returned in UTC: FHIR cannot write every offset Python reads (seconds, for one).
        """
        value = self.text(path)
        if value is None:
            return None
        try:
            try:
                moment = datetime.combine(parse_calendar_date(value), time())
            except NoSuchDay as error:
                self.issues.append(Issue(path, str(error), code="value"))
                return None
            except ValueError:  # not a date alone: a date-time, or nothing
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):
            self.issues.append(
                Issue(path, "not a date-time (ISO 8601) or a date (DD/MM/YYYY)", code="value")
            )
            return None

    def choice(self, path: str, options: tuple[Choice, ...]) -> Choice | None:
        """One of `options`, in any case; anything else is an error naming the options."""
        value = self.text(path)
        if value is None:
            return None
        for option in options:
            if value.lower() == option:
                return option
        self.issues.append(Issue(path, f"expected one of {', '.join(options)}", code="value"))
        return None

    def language(self, path: str) -> str | None:
        """A BCP 47 language tag such as `pl` or `pt-BR`; anything else is a warning, left out."""
        value = self.text(path)
        if value is None or _LANGUAGE_TAG.fullmatch(value):
            return value
        self.issues.append(
            Issue(
                path,
                "not a BCP 47 language tag; it was left out",
                severity="warning",
                code="value",
            )
        )
        return None

    def postcode(self, path: str) -> str | None:
        value = self.text(path)
        problem = postcode_problem(value)
        if problem:
            self.issues.append(Issue(path, problem, code="required" if value is None else "value"))
            return None
        return normalise_postcode(value or "")

    def nhs_number(self, path: str) -> str | None:
        """The NHS number if it passes Modulus 11; a failing one is a warning, not a rejection."""
        value = self.text(path)
        if value is None:
            return None
        number = clean_nhs_number(value)
        if nhs_number_is_valid(number):
            return number
        self.issues.append(
            Issue(
                path,
                "NHS number fails the Modulus 11 check; it was left out",
                severity="warning",
                code="value",
            )
        )
        return None
