"""Reading one FHIR resource: the references inside it, and its version."""

from __future__ import annotations

from typing import Any


def contained(resource: dict[str, Any], reference: Any) -> dict[str, Any]:
    """The contained resource a local reference (`#id`) names; empty when there is none."""
    wanted = str(reference or "").lstrip("#")
    return next((r for r in resource.get("contained") or [] if r.get("id") == wanted), {})


def resource_version(resource: dict[str, Any]) -> int:
    """The resource's `meta.versionId` as a number; 1 when it has none (a ServiceRequest
    published before referrals had versions)."""
    value = (resource.get("meta") or {}).get("versionId")
    return int(value) if isinstance(value, str) and value.isdigit() else 1
