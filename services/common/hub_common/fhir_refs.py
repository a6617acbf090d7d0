"""Following references inside one FHIR resource."""

from __future__ import annotations

from typing import Any


def contained(resource: dict[str, Any], reference: Any) -> dict[str, Any]:
    """The contained resource a local reference (`#id`) names; empty when there is none."""
    wanted = str(reference or "").lstrip("#")
    return next((r for r in resource.get("contained") or [] if r.get("id") == wanted), {})
