"""Subject access: each service's part of everything the hub holds about one person.

Services share nothing but events, so no service can read another's records: each answers
`GET /operator/subject-access?referral=<id>&referral=<id>...` with its own records about those
referrals, as a FHIR Bundle of type `collection`, and one entry point
(`referral-hub subject-access export`, hub_cli/subject_access.py) finds the person's referrals
through the notifier's person linking, asks each service for its part and assembles them.

Only the `operator` role may call it: the operator does no casework, and this is the one route
that discloses a person's whole record. Each part is an audit entry (action `export`, the
referral ids) committed before the records leave the service: no audit, no export.

Every entry has a `fullUrl` of its own (a name-based UUID of service, type, id and version), so
the same ServiceRequest kept by intake (as received) and by the notifier (as tracked), or a
Task's successive versions, sit side by side; `meta.source` names the service that holds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from hub_common.http.fhir import FhirResponse
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require

MAX_REFERRALS = 200
"""Referrals one request may name: a person referred more often than this is exported in
several calls (the assembler splits the list)."""
MAX_ID = 64
ROUTE = "/operator/subject-access"
AUDIT_KIND = "SubjectAccess"
SOURCE_PREFIX = "https://referral-hub.org/fhir/service/"

Collector = Callable[[Sequence[str]], Awaitable[list[dict[str, Any]]]]
"""A service's records about the referrals named, as FHIR resources (its adapter's query)."""
OperatorOnly = Annotated[Principal, Depends(require("operator"))]


def held_by(service: str) -> str:
    """The `meta.source` of a resource `service` holds."""
    return f"{SOURCE_PREFIX}{service}"


def entry_url(service: str, resource: Mapping[str, Any]) -> str:
    version = (resource.get("meta") or {}).get("versionId", "")
    name = f"{service}/{resource['resourceType']}/{resource.get('id')}/{version}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def tagged(service: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `resource` whose `meta.source` names the service holding it."""
    copy = dict(resource)
    copy["meta"] = {**(resource.get("meta") or {}), "source": held_by(service)}
    return copy


def part_bundle(service: str, resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One service's part: a `collection` Bundle, each entry with its own fullUrl."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(resources),
        "entry": [
            {"fullUrl": entry_url(service, r), "resource": tagged(service, r)} for r in resources
        ],
    }


def subject_access_router(service: str, collect: Collector) -> APIRouter:
    """`GET /operator/subject-access`: this service's records about the referrals named."""
    router = APIRouter(tags=["operator"])

    @router.get(
        ROUTE,
        response_class=FhirResponse,
        responses={
            200: {"description": "A Bundle (collection) of this service's records"},
            401: {"description": "No valid credentials"},
            403: {"description": "Not an operator"},
            422: {"description": "No referral named, too many, or an id too long"},
            503: {"description": "The export could not be recorded in the audit log"},
        },
    )
    async def subject_access(
        request: Request,
        operator: OperatorOnly,
        audit: AuditLogDep,
        referral: Annotated[
            list[str],
            Query(
                min_length=1,
                max_length=MAX_REFERRALS,
                description="The person's referral ids (from the notifier's `$match`)",
            ),
        ],
    ) -> FhirResponse:
        """Everything this service holds about the referrals named, as one Bundle."""
        ids = list(dict.fromkeys(referral))
        if any(not i or len(i) > MAX_ID for i in ids):
            raise HTTPException(422, detail=f"referral: each id is 1 to {MAX_ID} characters")
        resources = await collect(ids)
        await audit.read(request, operator, AUDIT_KIND, ids, action="export")
        return FhirResponse(part_bundle(service, resources))

    return router
