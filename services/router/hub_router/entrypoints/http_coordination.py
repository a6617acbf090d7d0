"""HTTP entrypoints for coordinators: referrals waiting in their boroughs, and assigning by hand.

- `GET /coordination/waiting` referrals nobody could be offered (awaiting-allocation), each with
  the router's latest decision record: who was excluded and why, who scored what
- `GET /coordination/workers` the active link workers of their boroughs, by name, with today's
  load against their limits: whom to choose from when assigning by hand
- `POST /fhir/Task/<id>/$assign` offer a requested referral to a chosen worker
- `POST /coordination/$rebalance` offer the whole waiting backlog at once, optimally
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub_common.messaging.envelope import TRACEPARENT
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_common.storage.stored_text import StorableText
from hub_router.entrypoints.http_tasks import fhir, viewer_of
from hub_router.service_layer.commands import AssignByHand, RebalanceWaiting
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.views import TaskViews

Coordinator = Annotated[Principal, Depends(require("coordinator"))]


class AssignBody(BaseModel):
    """The worker to offer the referral to."""

    worker: StorableText = Field(min_length=1, max_length=64, description="The link worker's id")


class RebalanceResult(BaseModel):
    """The offers a rebalance made; the referrals not named keep waiting."""

    offered: dict[str, str] = Field(description="Referral id -> the worker now offered it")


class WorkerLoad(BaseModel):
    """One link worker as a coordinator chooses among them."""

    id: str
    name: str
    boroughs: list[str]
    languages: list[str] = Field(description="BCP 47 codes the worker speaks")
    riskCleared: bool = Field(description="Cleared for visits flagged as a risk")
    workingToday: bool = Field(description="Works today and is not on leave")
    openReferrals: int
    maxCaseload: int
    newToday: int = Field(description="Referrals offered to or taken by them today")
    maxNewPerDay: int


class WorkerLoads(BaseModel):
    """The active link workers of the caller's boroughs, by name."""

    workers: list[WorkerLoad]


class WaitingReferrals(BaseModel):
    """Referrals waiting for a coordinator, oldest first, with why nobody was offered them."""

    referrals: list[dict[str, Any]]


def coordination_router(
    views: TaskViews,
    routing: RoutingService,
    clock: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> APIRouter:
    router = APIRouter(tags=["coordination"])

    @router.get("/coordination/waiting", summary="Referrals waiting for a coordinator")
    async def waiting(
        principal: Coordinator,
        request: Request,
        audit: AuditLogDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> WaitingReferrals:
        """Awaiting-allocation referrals in your boroughs, with the latest decision record and
        `candidates`: the link workers of your boroughs, best fit first, each with their load,
        whether they can take it today (`reason` says why not) and what choosing them sets
        aside (`setAside`: the area, an earlier offer); `workerNames` names every worker the
        decision record and earlier offers mention."""
        referrals = await views.waiting(viewer_of(principal), limit, clock())
        if referrals:  # each carries the person's needs, area and language
            await audit.read(request, principal, "Task", [r["referralId"] for r in referrals])
        return WaitingReferrals(referrals=referrals)

    @router.get("/coordination/workers", summary="Link workers of your boroughs, with load")
    async def workers(principal: Coordinator) -> WorkerLoads:
        """Active link workers covering any of your boroughs: name, languages, risk clearance,
        whether they work today, and open referrals and today's new ones against their limits.
        Staff directory data, not personal data of the people referred: not audited."""
        found = await views.workers(viewer_of(principal), clock())
        return WorkerLoads(workers=[WorkerLoad.model_validate(w) for w in found])

    @router.post("/fhir/Task/{task_id}/$assign", summary="Assign by hand")
    async def assign(
        principal: Coordinator,
        task_id: str,
        body: AssignBody,
        request: Request,
        audit: AuditLogDep,
    ) -> JSONResponse:
        """Offer a requested referral of your boroughs to the worker you choose.

        Area and earlier offers may be overridden; capacity, working days and risk clearance
        may not (409 says which).
        """
        changed = await routing.assign_by_hand(
            AssignByHand(
                task_id,
                body.worker,
                coordinator=principal.subject,
                scope=viewer_of(principal),
                traceparent=request.headers.get(TRACEPARENT),
                audit=audit.entry(request, principal, "update", "Task", [task_id]),
            )
        )
        return fhir(changed.snapshot)

    @router.post("/coordination/$rebalance", summary="Offer the waiting backlog optimally")
    async def rebalance(
        principal: Coordinator,
        request: Request,
        audit: AuditLogDep,
        limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    ) -> RebalanceResult:
        """Offer the referrals waiting in your boroughs all at once: as many as today's room
        allows, then the best matches (minimum-cost flow), under every hard constraint."""
        offered = await routing.rebalance_waiting(
            RebalanceWaiting(
                principal.subject,
                viewer_of(principal),
                limit,
                audit=audit.entry(request, principal, "update", "Task"),
            )
        )
        return RebalanceResult(offered=offered)

    return router
