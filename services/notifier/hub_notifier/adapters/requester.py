"""Who referred: the organisation identifier that decides which agency may see a referral."""

from __future__ import annotations

from typing import Any


def requester_key(identifier: dict[str, Any] | None) -> str:
    """`system|value` of the referring organisation's identifier (ODS code or hub agency id)."""
    identifier = identifier or {}
    return f"{identifier.get('system', '')}|{identifier.get('value', '')}"


def service_request_requester(request: dict[str, Any]) -> dict[str, Any]:
    contained = {r.get("id"): r for r in request.get("contained", [])}
    role = contained.get(str(request.get("requester", {}).get("reference", "")).lstrip("#"), {})
    organisation = contained.get(
        str(role.get("organization", {}).get("reference", "")).lstrip("#"), {}
    )
    identifier: dict[str, Any] = (organisation.get("identifier") or [{}])[0]
    return identifier


def source_of(request: dict[str, Any]) -> str:
    for identifier in request.get("identifier", []):
        system = str(identifier.get("system", ""))
        if "/Id/referrer-ref/" in system:
            return system.rsplit("/", 1)[-1]
    return "unknown"
