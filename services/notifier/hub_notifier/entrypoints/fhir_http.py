"""What every FHIR answer of the notifier shares: OperationOutcomes, history Bundles, who reads.

Searchsets, paging, error shapes and ETags are the hub's, in hub_common.fhir.search and
hub_common.http.fhir."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, HTTPException, status

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.http.fhir import FHIR_JSON_MEDIA, FhirResponse
from hub_common.security.auth import Principal, principal_from_request, require
from hub_notifier.domain.access import Reader

__all__ = ["FHIR_JSON_MEDIA", "FhirResponse"]


def outcome_response(code: int, issue: Issue) -> FhirResponse:
    return FhirResponse(operation_outcome([issue]), status_code=code)


def not_found(what: str) -> FhirResponse:
    """The same answer for "no such thing" and "not yours": nothing to tell them apart."""
    return outcome_response(404, Issue(what, f"no such {what}", code="not-found"))


def history_bundle(
    task_id: str, versions: Sequence[dict[str, Any]], base_url: str
) -> dict[str, Any]:
    """A Task's versions, newest first, as the `_history` answer."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "total": len(versions)}
    entries = []
    for version in versions:
        response = {"status": "200"}
        if modified := (version.get("meta") or {}).get("lastUpdated"):
            response["lastModified"] = modified
        entries.append(
            {
                "fullUrl": f"{base_url.rstrip('/')}/fhir/Task/{task_id}",
                "resource": version,
                "request": {"method": "PUT", "url": f"Task/{task_id}"},
                "response": response,
            }
        )
    if entries:
        bundle["entry"] = entries
    return bundle


def reader_of(principal: Principal) -> Reader:
    if principal.role == "agency" and principal.organisation:
        return Reader(organisation=principal.organisation)
    if principal.role == "coordinator":
        return Reader(boroughs=frozenset(principal.boroughs))
    raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the role agency")


def _reader(principal: Annotated[Principal, Depends(require("agency", "coordinator"))]) -> Reader:
    return reader_of(principal)


def _person_reader(
    principal: Annotated[Principal, Depends(require("agency", "coordinator", "link_worker"))],
) -> Reader:
    if principal.role == "link_worker":
        return Reader(worker=principal.subject)
    return reader_of(principal)


def _agency_reader(principal: Annotated[Principal, Depends(require("agency"))]) -> Reader:
    return reader_of(principal)


ReaderDep = Annotated[Reader, Depends(_reader)]
# The message back document is for the referring GP practice alone: an agency credential.
AgencyReaderDep = Annotated[Reader, Depends(_agency_reader)]
# The ServiceRequest (the person) is also read by the link worker who owns the referral.
PersonReaderDep = Annotated[Reader, Depends(_person_reader)]
# The verified caller itself (FastAPI checks the token once per request), for audit entries.
CallerDep = Annotated[Principal, Depends(principal_from_request)]
AgencyDep = Annotated[Principal, Depends(require("agency"))]
OperatorDep = Annotated[Principal, Depends(require("operator"))]
