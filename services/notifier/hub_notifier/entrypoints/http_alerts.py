"""HTTP entrypoint for coordinators: the open service level alerts of their boroughs.

- `GET /coordination/alerts` open breaches and escalations, oldest first (ids, rule, level,
  times; no personal data), each read an audit entry naming the referrals
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_notifier.service_layer.alerting import AlertBook

Coordinator = Annotated[Principal, Depends(require("coordinator"))]


class OpenAlerts(BaseModel):
    """Open service level alerts in the caller's boroughs, oldest first."""

    alerts: list[dict[str, Any]] = Field(
        description="Each: referralId, task, borough, rule (first-contact | closure), level "
        "(breach | escalated), dueAt, raisedAt"
    )


def alerts_router(book: AlertBook) -> APIRouter:
    router = APIRouter(tags=["coordination"])

    @router.get("/coordination/alerts", summary="Open service level alerts")
    async def open_alerts(
        principal: Coordinator,
        request: Request,
        audit: AuditLogDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> OpenAlerts:
        """Referrals in your boroughs past a service level (first contact, closure), and the
        first-contact breaches escalated, until the referral meets it or closes."""
        alerts = await book.open_alerts(frozenset(principal.boroughs), limit)
        if alerts:  # names referrals: on record before it is sent
            ids = sorted({alert["referralId"] for alert in alerts})
            await audit.read(request, principal, "Task", ids)
        return OpenAlerts(alerts=alerts)

    return router
