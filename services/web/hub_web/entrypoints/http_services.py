"""The link worker's "Find a service" page for a referral they hold or are offered: a GET
form (nothing changes, so no CSRF token), answered by the router's directory search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from hub_common.needs import NEED_DISPLAY, NeedCategory
from hub_web.entrypoints.pages import render
from hub_web.entrypoints.sessions import WebSession, viewer
from hub_web.service_layer.service_finder import (
    CAPACITIES,
    DAYS,
    DISTANCES_KM,
    ServiceFilters,
    ServiceFinder,
)

ReferralId = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,64}$")]
Viewer = Annotated[WebSession, Depends(viewer("link_worker"))]


def services_router(finder: ServiceFinder) -> APIRouter:
    router = APIRouter(prefix="/worker")

    @router.get("/referrals/{referral_id}/services", response_class=HTMLResponse)
    async def find_services(
        request: Request,
        session: Viewer,
        referral_id: ReferralId,
        need: Annotated[list[NeedCategory] | None, Query()] = None,
        text: Annotated[str, Query(max_length=200)] = "",
        distance: Annotated[str, Query(max_length=3)] = "",
        day: Annotated[list[str] | None, Query()] = None,
        free: Annotated[str, Query(max_length=5)] = "",
        age: Annotated[str, Query(max_length=3)] = "",
        capacity: Annotated[list[str] | None, Query()] = None,
        search: Annotated[str, Query(max_length=5)] = "",
    ) -> HTMLResponse:
        """Services for this referral: by the referral's needs first, then the worker's filters."""
        days = {code for code, _ in DAYS}
        states = {code for code, _ in CAPACITIES}
        filters = (
            ServiceFilters(
                needs=tuple(n.value for n in need or ()),
                text=text,
                distance_km=int(distance) if distance.isdigit() and int(distance) > 0 else None,
                days=tuple(d for d in day or () if d in days),
                free_only=free == "yes",
                age=int(age) if age.isdigit() and int(age) <= 130 else None,
                capacities=tuple(c for c in capacity or () if c in states),
            )
            if search
            else None
        )
        page = await finder.find(session.caller, referral_id, filters)
        return render(
            request,
            "worker_services.html",
            session,
            title="Find a service",
            page=page,
            need_choices=[(n.value, NEED_DISPLAY[n]) for n in NeedCategory],
            day_choices=DAYS,
            capacity_choices=CAPACITIES,
            distances=DISTANCES_KM,
        )

    return router
