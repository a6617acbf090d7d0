"""HTTP entrypoints of the read side: what referrers (and coordinators) poll."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from hub_common.fhir.outcome import Issue
from hub_common.fhir.search import is_strict, parse_search, searchset
from hub_common.http.fhir import read_response
from hub_common.security.audit import AuditLogDep, ids_of
from hub_notifier.adapters.capability import capability_statement
from hub_notifier.adapters.fhir_search import parse_instant_bound, parse_token_list
from hub_notifier.domain.message_back import parse_document_id
from hub_notifier.entrypoints.fhir_http import (
    AgencyReaderDep,
    CallerDep,
    FhirResponse,
    PersonReaderDep,
    ReaderDep,
    history_bundle,
    not_found,
    outcome_response,
)
from hub_notifier.service_layer.reading import MAX_COUNT, ReadService, TaskSearch

FOCUS_PREFIX = "ServiceRequest/"
SEARCH_PARAMETERS = ("focus", "requester", "requester:identifier", "status", "_lastUpdated")

FHIR_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "The resource (application/fhir+json)"},
    304: {"description": "Not modified: If-None-Match names the current version"},
    400: {"description": "A search parameter that is invalid, or unsupported under strict"},
    406: {"description": "Accept or _format asks for something but FHIR JSON"},
    401: {"description": "No valid credentials"},
    403: {"description": "This role reads no referrals here"},
    404: {"description": "Unknown, or not yours: the same answer (OperationOutcome)"},
    503: {"description": "The read could not be recorded in the audit log, so nothing is sent"},
}


def read_router(service: ReadService, base_url: str, version: str) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["read"])

    @router.get("/metadata", response_class=FhirResponse)
    async def metadata() -> FhirResponse:
        """The CapabilityStatement of this FHIR facade (no credentials needed)."""
        return FhirResponse(capability_statement(base_url, version))

    @router.get(
        "/ServiceRequest/{referral_id}", response_class=FhirResponse, responses=FHIR_RESPONSES
    )
    async def read_service_request(
        referral_id: str,
        reader: PersonReaderDep,
        request: Request,
        caller: CallerDep,
        audit: AuditLogDep,
    ) -> Response:
        """One of your referrals, as the hub accepted it: the person, how to reach them, what
        matters to them and the referrer's words. Agencies read their own, coordinators their
        boroughs', a link worker those they have accepted and still work on."""
        resource = await service.service_request(reader, referral_id)
        if not resource:
            return not_found("ServiceRequest")
        await audit.read(request, caller, "ServiceRequest", [referral_id])
        return read_response(request, resource)

    @router.get("/Task/{task_id}", response_class=FhirResponse, responses=FHIR_RESPONSES)
    async def read_task(
        task_id: str, reader: ReaderDep, request: Request, caller: CallerDep, audit: AuditLogDep
    ) -> Response:
        """The current Task of one of your referrals (or of one refused at intake), with its
        version as ETag; `If-None-Match` with that version answers 304."""
        task = await service.task(reader, task_id)
        if not task:
            return not_found("Task")
        await audit.read(request, caller, "Task", [task_id])
        return read_response(request, task)

    @router.get("/Task/{task_id}/_history", response_class=FhirResponse, responses=FHIR_RESPONSES)
    async def task_history(
        task_id: str, reader: ReaderDep, request: Request, caller: CallerDep, audit: AuditLogDep
    ) -> FhirResponse:
        """Every version of one of your referrals' Task, newest first (a history Bundle): the
        timeline of who moved it where, and when."""
        versions = await service.task_history(reader, task_id)
        if versions is None:
            return not_found("Task")
        await audit.read(request, caller, "Task", [task_id])
        return FhirResponse(history_bundle(task_id, versions, base_url))

    @router.get(
        "/Task/{task_id}/$refused-message",
        responses={
            200: {"description": "`{rejection, source, original}`: the message as received"},
            **{k: v for k, v in FHIR_RESPONSES.items() if k not in (200, 304)},
        },
    )
    async def refused_message(
        task_id: str,
        reader: AgencyReaderDep,
        request: Request,
        caller: CallerDep,
        audit: AuditLogDep,
    ) -> Response:
        """What your organisation sent in a referral refused at intake (the rejection Task's
        id), as intake received it: `original` is the JSON document, or the text (or base64)
        of a body it could not read. For correcting and sending it again; only the referring
        agency reads it, and every read is audited."""
        message = await service.refused_message(reader, task_id)
        if message is None:
            return not_found("Task")
        await audit.read(request, caller, "Task", [task_id])
        return JSONResponse(message)

    @router.get("/Bundle/{document_id}", response_class=FhirResponse, responses=FHIR_RESPONSES)
    async def read_message_back(
        document_id: str,
        reader: AgencyReaderDep,
        request: Request,
        caller: CallerDep,
        audit: AuditLogDep,
    ) -> FhirResponse:
        """The message back to your practice as a FHIR document Bundle (`<referral>-accepted`,
        `-declined` or `-closed`): one unit your GP system files, with the person, their needs,
        the SNOMED CT code to record and, at closure, the support offered and the wellbeing
        measures, coded. Only the GP practice that made the referral reads it."""
        named = parse_document_id(document_id)
        if named is None:
            return not_found("Bundle")
        referral_id, moment = named
        bundle = await service.message_back_document(reader, referral_id, moment, document_id)
        if bundle is None:
            return not_found("Bundle")
        await audit.read(request, caller, "Bundle", [referral_id])
        return FhirResponse(bundle)

    @router.get("/Task", response_class=FhirResponse, responses=FHIR_RESPONSES)
    async def search_tasks(
        request: Request,
        reader: ReaderDep,
        caller: CallerDep,
        audit: AuditLogDep,
        focus: Annotated[str | None, Query(description="ServiceRequest/<referral id>")] = None,
        requester: Annotated[str | None, Query(description="system|value")] = None,
        requester_identifier: Annotated[
            str | None, Query(alias="requester:identifier", description="system|value")
        ] = None,
        status: Annotated[str | None, Query(description="comma-separated Task statuses")] = None,
        last_updated: Annotated[
            list[str] | None, Query(alias="_lastUpdated", description="e.g. gt2026-01-01T00:00Z")
        ] = None,
        count: Annotated[
            str | None, Query(alias="_count", description=f"page size, at most {MAX_COUNT}")
        ] = None,
        prefer: Annotated[str | None, Header(description="handling=strict")] = None,
    ) -> FhirResponse:
        """Search your Tasks: by id, referral, status, or change time (a searchset Bundle,
        paged with `next`/`previous` links; `_sort=-_lastUpdated` for newest first,
        `_summary=count` for the total alone, `_elements` to cut each Task down). An unknown
        parameter is ignored and left out of `self`, or refused under
        `Prefer: handling=strict`."""
        query = parse_search(
            request.query_params.multi_items(),
            SEARCH_PARAMETERS,
            strict=is_strict(prefer),
            max_count=MAX_COUNT,
        )
        try:
            bounds = tuple(parse_instant_bound(value) for value in last_updated or ())
        except ValueError as error:
            return outcome_response(400, Issue("_lastUpdated", str(error), code="value"))
        if focus is not None and not focus.startswith(FOCUS_PREFIX):
            return outcome_response(
                400, Issue("focus", "expected ServiceRequest/<id>", code="value")
            )
        search = TaskSearch(
            focus=focus.removeprefix(FOCUS_PREFIX) if focus is not None else None,
            requester=requester_identifier or requester,
            statuses=parse_token_list(status),
            last_updated=bounds,
            ids=query.ids,
        )
        page, total = await service.search_tasks(reader, search, query)
        if page.rows:  # an empty page discloses nothing about anyone
            await audit.read(request, caller, "Task", ids_of(page.rows))
        return FhirResponse(searchset(page.rows, total, base_url, "/fhir/Task", query, page))

    return router
