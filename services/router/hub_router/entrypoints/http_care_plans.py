"""HTTP entrypoints of the personalised care and support plan.

- `GET /fhir/CarePlan/<referral id>`: the newest version (`ETag: W/"<version>"`)
- `GET /fhir/CarePlan/<referral id>/_history`: every version, newest first
- `POST /fhir/Task/<id>/$care-plan`: record a new version (`If-Match: W/"<version>"` when
  replacing one, so two devices never overwrite each other unseen: 409 when it moved on)

The worker holding the referral reads and records it; coordinators of the person's borough
read it. Anything else is 404. Reads and writes are audited.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub_common.fhir.needs import NeedCategory
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_common.storage.stored_text import StorableText
from hub_router.domain.care_plan import (
    MAX_ITEMS,
    MAX_TEXT,
    Action,
    ActionBy,
    Goal,
    PlanConflict,
    PlanRefused,
)
from hub_router.entrypoints.http_tasks import FHIR_JSON_MEDIA, fhir, refusal, viewer_of
from hub_router.service_layer.care_planning import CarePlanning, RecordCarePlan

LinkWorker = Annotated[Principal, Depends(require("link_worker"))]
Reader = Annotated[Principal, Depends(require("link_worker", "coordinator"))]
WEAK_ETAG = re.compile(r'^W/"(\d+)"$')


class GoalBody(BaseModel):
    """A goal the person set, in their words."""

    description: StorableText = Field(min_length=1, max_length=MAX_TEXT)
    need: NeedCategory | None = Field(default=None, description="The need it answers")
    target_date: date | None = Field(default=None, alias="targetDate")
    achieved: bool = False


class ActionBody(BaseModel):
    """A step agreed: what, by whom, by when, and whether it is done."""

    description: StorableText = Field(min_length=1, max_length=MAX_TEXT)
    by: ActionBy = Field(description="Who carries it out")
    due: date | None = None
    done: bool = False


class CarePlanBody(BaseModel):
    """A new version of the plan (the whole plan, not a change to it)."""

    what_matters: StorableText = Field(
        min_length=1, max_length=MAX_TEXT, alias="whatMatters", description="In the person's words"
    )
    goals: list[GoalBody] = Field(default_factory=list, max_length=MAX_ITEMS)
    actions: list[ActionBody] = Field(default_factory=list, max_length=MAX_ITEMS)


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = WEAK_ETAG.match(if_match.strip())
    if not match:
        raise PlanRefused("If-Match", 'If-Match must be W/"<version>"')
    return int(match.group(1))


def install_care_plan_errors(app: FastAPI) -> None:
    """Refused plans are 422 naming the field; a plan that moved on is 409."""

    async def refused(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, PlanRefused)
        return refusal(422, str(error), "value", error.field_path)

    async def conflict(request: Request, error: Exception) -> JSONResponse:
        return refusal(409, str(error), "conflict", "CarePlan")

    app.add_exception_handler(PlanRefused, refused)
    app.add_exception_handler(PlanConflict, conflict)


def care_plan_router(planning: CarePlanning, base_url: str = "") -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["care plans"])

    @router.get("/CarePlan/{referral_id}", summary="Read a referral's care plan")
    async def read_plan(
        principal: Reader, referral_id: str, request: Request, audit: AuditLogDep
    ) -> JSONResponse:
        """The newest version of the plan, if the referral is yours to see and has one."""
        plans = await planning.read(viewer_of(principal), referral_id)
        if not plans:
            return refusal(404, "no care plan recorded yet", "not-found", "CarePlan")
        await audit.read(request, principal, "CarePlan", [referral_id])
        return fhir(plans[0])

    @router.get("/CarePlan/{referral_id}/_history", summary="Every version of a care plan")
    async def plan_history(
        principal: Reader, referral_id: str, request: Request, audit: AuditLogDep
    ) -> JSONResponse:
        """Every version, newest first (a history Bundle): what was agreed, and when."""
        plans = await planning.read(viewer_of(principal), referral_id, history=True)
        if plans:
            await audit.read(request, principal, "CarePlan", [referral_id])
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "total": len(plans)}
        if plans:
            bundle["entry"] = [
                {
                    "fullUrl": f"{base_url}/fhir/CarePlan/{referral_id}",
                    "resource": plan,
                    "request": {"method": "PUT", "url": f"CarePlan/{referral_id}"},
                    "response": {"status": "200"},
                }
                for plan in plans
            ]
        return JSONResponse(bundle, media_type=FHIR_JSON_MEDIA)

    @router.post("/Task/{task_id}/$care-plan", summary="Record the care plan")
    async def record_plan(
        principal: LinkWorker,
        task_id: str,
        body: CarePlanBody,
        request: Request,
        audit: AuditLogDep,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> JSONResponse:
        """Record a new version of the plan of a referral you hold; answers the CarePlan."""
        plan = await planning.record(
            RecordCarePlan(
                referral_id=task_id,
                worker_id=principal.subject,
                what_matters=body.what_matters,
                goals=tuple(
                    Goal(g.description, g.need, g.target_date, g.achieved) for g in body.goals
                ),
                actions=tuple(Action(a.description, a.by, a.due, a.done) for a in body.actions),
                expected_version=_expected_version(if_match),
                audit=audit.entry(request, principal, "update", "CarePlan", [task_id]),
            )
        )
        return fhir(plan, status_code=201 if plan["meta"]["versionId"] == "1" else 200)

    return router
