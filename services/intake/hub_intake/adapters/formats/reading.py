"""Reading loosely-typed agency JSON while collecting every problem, each naming its field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub_common.outcome import Issue
from hub_intake.domain.checks import (
    clean_nhs_number,
    nhs_number_is_valid,
    normalise_postcode,
    parse_birth_date,
    postcode_problem,
)


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
