"""`POST /fhir/$process-message`: BaRS referral messages from NHS systems (docs/bars.md).

A referral, a cancellation or an amendment, each a FHIR message Bundle; the answer is a FHIR
response message (adapters/bars_acknowledgement.py): `ok` with 200, or `fatal-error` with 422
and an OperationOutcome naming each fault. A body that is no message at all, or whose
MessageHeader has no id to answer, gets a plain OperationOutcome with 400.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.http.fhir import FhirResponse
from hub_common.jsonio import loads
from hub_common.messaging.envelope import TRACEPARENT
from hub_common.security.audit import AuditAction, AuditLogDep
from hub_common.security.auth import Principal, require
from hub_intake.adapters.bars_acknowledgement import acknowledgement
from hub_intake.adapters.formats import bars
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService

SOURCE = "fhir"

Agency = Annotated[Principal, Depends(require("agency"))]


def _header(body: bytes) -> bars.Header:
    try:
        document = loads(body)
    except ValueError:
        return bars.Header(None, None, None, None)
    return (
        bars.header_of(document)
        if isinstance(document, dict)
        else bars.Header(None, None, None, None)
    )


def bars_router(service: IntakeService) -> APIRouter:
    router = APIRouter(tags=["referrals"])

    @router.post(
        "/fhir/$process-message",
        responses={
            200: {
                "description": "Recorded: a FHIR response message, MessageHeader.response.code ok"
            },
            400: {
                "description": "Not a FHIR message Bundle, or its MessageHeader has no id to "
                "answer (FHIR OperationOutcome)"
            },
            401: {"description": "No valid credentials"},
            403: {"description": "This credential may not send FHIR referrals"},
            413: {"description": "The body is larger than HUB_AGENCY_MESSAGE_MAX_BYTES"},
            422: {
                "description": "Refused: a FHIR response message, MessageHeader.response.code "
                "fatal-error, its OperationOutcome naming every fault"
            },
        },
    )
    async def process_message(request: Request, agency: Agency, audit: AuditLogDep) -> JSONResponse:
        """Process a BaRS referral message: a new referral, or a cancellation or amendment
        (MessageHeader.reason update) of one you sent."""
        if agency.sources and SOURCE not in agency.sources:
            return FhirResponse(
                operation_outcome(
                    [
                        Issue(
                            "source",
                            "this credential may not send fhir referrals",
                            code="forbidden",
                        )
                    ]
                ),
                403,
            )
        body = await request.body()
        header = _header(body)
        # A cancellation or amendment changes a referral: audited as the update it is.
        action: AuditAction = "update" if header.reason == "update" else "create"
        command = ReceiveReferrals(
            source=SOURCE,
            body=body,
            received_at=datetime.now(UTC),
            traceparent=request.headers.get(TRACEPARENT),
            agency=agency.organisation,
            audit=audit.entry(request, agency, action, "ServiceRequest"),
            process_message=True,
        )
        try:
            [outcome] = await service.receive(command)
        except UnreadableMessage as error:
            return FhirResponse(
                operation_outcome([Issue(error.field or "(body)", str(error), code="structure")]),
                400,
            )
        if header.message_id is None:  # nothing to answer: the outcome alone says why
            return FhirResponse(outcome.outcome, 400)
        refused = outcome.status == "rejected"
        details = outcome.outcome
        headers = {}
        if outcome.referral_id:
            headers["Location"] = f"/fhir/Task?focus=ServiceRequest/{outcome.referral_id}"
        answer = acknowledgement(
            header, "fatal-error" if refused else "ok", details, command.received_at
        )
        return FhirResponse(answer, 422 if refused else 200, headers)

    return router
