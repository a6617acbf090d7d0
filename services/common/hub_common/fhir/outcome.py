"""FHIR OperationOutcome: how the hub says precisely what is wrong with an input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True)
class Issue:
    """One problem with an input, naming the field (a path in the sender's own format)."""

    field: str
    message: str
    severity: Severity = "error"
    code: str = "invalid"  # FHIR issue-type: invalid, required, value, structure, too-long, ...

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource listing every issue; `expression` names the field."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": issue.severity,
                "code": issue.code,
                "diagnostics": issue.message,
                "expression": [issue.field],
            }
            for issue in issues
        ]
        or [{"severity": "information", "code": "informational", "diagnostics": "no issues"}],
    }
