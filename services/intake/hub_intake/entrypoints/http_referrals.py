"""HTTP entrypoints: agencies POST referrals in their own format, or as FHIR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.http.fhir import FhirResponse
from hub_common.jsonio import loads
from hub_common.messaging.envelope import TRACEPARENT
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.entrypoints import fhir_writes
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService
from hub_intake.service_layer.outcomes import Outcome

FHIR_JSON_MEDIA = "application/fhir+json"

Agency = Annotated[Principal, Depends(require("agency"))]


class ReferralResult(BaseModel):
    """What happened to one referral of the request."""

    status: Literal["accepted", "duplicate", "rejected"] = Field(
        description="accepted, a resend of an earlier one, or refused"
    )
    referral_id: str | None = Field(description="The hub's referral id (the same for a resend)")
    referrer_reference: str | None = Field(description="Your own reference for the referral")
    item: str | None = Field(description="Which part of a batch this is, e.g. `row 3` of a CSV")
    task: str | None = Field(description="Where to follow the referral's progress")
    outcome: dict[str, Any] = Field(
        description="FHIR OperationOutcome: errors for a refusal, warnings otherwise"
    )


class IntakeAnswer(BaseModel):
    """One result per referral in the request."""

    results: list[ReferralResult]


def _result(outcome: Outcome, notifier_url: str) -> ReferralResult:
    return ReferralResult(
        status=outcome.status,
        referral_id=outcome.referral_id,
        referrer_reference=outcome.referrer_reference,
        item=outcome.item,
        task=fhir_writes.links(notifier_url, outcome.referral_id)[1]
        if outcome.referral_id
        else None,
        outcome=outcome.outcome,
    )


def _outcome_response(code: int, issue: Issue) -> JSONResponse:
    return JSONResponse(operation_outcome([issue]), status_code=code, media_type=FHIR_JSON_MEDIA)


def intake_router(service: IntakeService, max_body_bytes: int, notifier_url: str) -> APIRouter:
    router = APIRouter(tags=["referrals"])

    async def outcomes_of(
        source: str, request: Request, agency: Principal, audit: AuditLogDep
    ) -> list[Outcome] | JSONResponse:
        if not service.knows(source):
            return _outcome_response(
                404, Issue("source", f"no referral format called {source!r}", code="not-found")
            )
        if agency.sources and source not in agency.sources:
            return _outcome_response(
                403,
                Issue(
                    "source", f"this credential may not send {source} referrals", code="forbidden"
                ),
            )
        # A body over the limit never gets here: service_app's BodySizeLimit answers 413.
        body = await request.body()
        command = ReceiveReferrals(
            source=source,
            body=body,
            received_at=datetime.now(UTC),
            traceparent=request.headers.get(TRACEPARENT),
            agency=agency.organisation,
            audit=audit.entry(request, agency, "create", "ServiceRequest"),
        )
        try:
            return await service.receive(command)
        except UnreadableMessage as error:
            return _outcome_response(
                400, Issue(error.field or "(body)", str(error), code="structure")
            )

    async def receive(
        source: str, request: Request, agency: Principal, audit: AuditLogDep
    ) -> JSONResponse:
        outcomes = await outcomes_of(source, request, agency, audit)
        if isinstance(outcomes, JSONResponse):
            return outcomes
        answer = IntakeAnswer(results=[_result(o, notifier_url) for o in outcomes])
        accepted = any(o.status != "rejected" for o in outcomes)
        code = status.HTTP_202_ACCEPTED if accepted else fhir_writes.refusal_status(outcomes)
        return JSONResponse(answer.model_dump(mode="json"), status_code=code)

    responses: dict[int | str, dict[str, Any]] = {
        202: {
            "model": IntakeAnswer,
            "description": "At least one referral accepted (or already known)",
        },
        400: {
            "description": "The body cannot be read at all, or names a schema version the "
            "hub does not know (FHIR OperationOutcome naming `schema`)"
        },
        401: {"description": "No valid credentials"},
        403: {"description": "This credential may not send this format"},
        413: {
            "description": f"The body is larger than {max_body_bytes} bytes, the largest "
            "agency message (HUB_AGENCY_MESSAGE_MAX_BYTES, the inbound Kafka topics' limit "
            "too) (FHIR OperationOutcome)"
        },
        422: {
            "model": IntakeAnswer,
            "description": "Every referral in the body was refused, each with its reasons",
        },
    }

    @router.post("/referrals/{source}", status_code=202, responses=responses)
    async def post_referral(
        source: str, request: Request, agency: Agency, audit: AuditLogDep
    ) -> JSONResponse:
        """Submit referrals in an agency format (JSON, or text/csv for housing)."""
        return await receive(source, request, agency, audit)

    fhir_responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "A resend of a referral already received: the same one"},
        201: {"description": "Created: Location (at the notifier) and the ServiceRequest"},
        400: responses[400],
        401: responses[401],
        403: responses[403],
        409: {"description": "Clashes with a referral the hub holds (OperationOutcome)"},
        413: responses[413],
        422: {"description": "Refused: every issue names its field (OperationOutcome)"},
    }

    @router.post("/fhir/ServiceRequest", status_code=201, responses=fhir_responses)
    async def post_service_request(
        request: Request,
        agency: Agency,
        audit: AuditLogDep,
        prefer: Annotated[str | None, Header(description="return=minimal|OperationOutcome")] = None,
    ) -> Response:
        """Create a FHIR R4 ServiceRequest with its Patient contained (NHS systems)."""
        outcomes = await outcomes_of("fhir", request, agency, audit)
        if isinstance(outcomes, JSONResponse):
            return outcomes
        [outcome] = outcomes  # the fhir format reads one referral per message
        return fhir_writes.created(outcome, notifier_url, prefer)

    @router.post(
        "/fhir",
        status_code=200,
        responses={**fhir_responses, 200: {"description": "A transaction-response Bundle"}},
    )
    async def post_bundle(request: Request, agency: Agency, audit: AuditLogDep) -> Response:
        """Submit a FHIR R4 transaction Bundle holding a ServiceRequest and its Patient (NHS
        systems): answered with a transaction-response Bundle."""
        outcomes = await outcomes_of("fhir", request, agency, audit)
        if isinstance(outcomes, JSONResponse):
            return outcomes
        [outcome] = outcomes
        if outcome.status == "rejected" or not outcome.referral_id:
            return FhirResponse(outcome.outcome, status_code=fhir_writes.refusal_status([outcome]))
        # Read already (the format took it as JSON, tolerating a byte-order mark).
        bundle = loads((await request.body()).removeprefix(b"\xef\xbb\xbf"))
        return FhirResponse(fhir_writes.transaction_response(bundle, outcome, notifier_url))

    return router
