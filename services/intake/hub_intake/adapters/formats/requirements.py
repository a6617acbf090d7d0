"""The "Required to accept" rules (services/intake/README.md) that span several fields."""

from __future__ import annotations

from hub_common.fhir.outcome import Issue


def require_way_to_reach(issues: list[Issue], path: str, whom: str, *ways: str | None) -> None:
    """`whom` (e.g. "the person (phone or address)") must be reachable by one of `ways`."""
    if not any(ways):
        issues.append(Issue(path, f"a way to reach {whom} is required", code="required"))


def require_consent(issues: list[Issue], path: str, given: bool | None) -> None:
    """Consent to share must be recorded as given; a malformed answer is reported once."""
    if given is True or any(issue.field == path for issue in issues):
        return
    if given is False:
        issues.append(Issue(path, "consent to share was not given", code="required"))
    else:
        issues.append(Issue(path, "recorded consent to share is required", code="required"))
