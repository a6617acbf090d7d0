"""HTTP entrypoint for referrers: withdraw a referral the caller's organisation made.

`POST /fhir/Task/<id>/$cancel` with a reason: the Task moves to `cancelled` (from requested,
accepted, in progress or on hold), leaves any offer and the worker's caseload, and the new
version reaches the notifier, which tells the referrer as for any change. Another
organisation's referral answers 404 as if it did not exist; a referral already closed, 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub_common.messaging.envelope import TRACEPARENT
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_common.security.disclosure import for_referrer
from hub_common.storage.stored_text import StorableText
from hub_router.entrypoints.http_tasks import fhir
from hub_router.service_layer.commands import CancelReferral
from hub_router.service_layer.task_progress import TaskProgress

Agency = Annotated[Principal, Depends(require("agency"))]


class CancelBody(BaseModel):
    """Why the referrer withdraws the referral (Task.statusReason.text)."""

    reason: StorableText = Field(
        min_length=1, max_length=500, description="Why the referral is withdrawn"
    )


def referrer_router(progress: TaskProgress) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["referrers"])

    @router.post("/Task/{task_id}/$cancel", summary="Withdraw a referral you made")
    async def cancel_referral(
        principal: Agency, task_id: str, body: CancelBody, request: Request, audit: AuditLogDep
    ) -> JSONResponse:
        """Cancel your organisation's referral, with a reason; answers the new Task as the
        referrer reads it (status and step, no casework)."""
        changed = await progress.cancel_for_referrer(
            CancelReferral(
                task_id,
                principal.organisation or "",
                body.reason,
                request.headers.get(TRACEPARENT),
                audit.entry(request, principal, "update", "Task", [task_id]),
            )
        )
        return fhir(for_referrer(changed.snapshot))

    return router
