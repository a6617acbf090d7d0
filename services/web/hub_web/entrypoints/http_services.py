"""The link worker's "Find a service" page for a referral they hold or are offered: a GET
form (nothing changes, so no CSRF token), answered by the router's directory search; and the
Refer form on each service found, posted (with CSRF) to the router's `$refer-onward`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from hub_common.fhir.needs import NEED_DISPLAY, NeedCategory
from hub_web.domain.onward import CONSENT_METHODS
from hub_web.entrypoints import forms
from hub_web.entrypoints.forms import FormProblem
from hub_web.entrypoints.pages import act, render
from hub_web.entrypoints.sessions import WebSession, poster, viewer
from hub_web.service_layer.service_finder import (
    CAPACITIES,
    DAYS,
    DISTANCES_KM,
    ReferOnward,
    ServiceFilters,
    ServiceFinder,
)

ReferralId = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,64}$")]
ServiceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,200}$")]
Viewer = Annotated[WebSession, Depends(viewer("link_worker"))]
Poster = Annotated[WebSession, Depends(poster("link_worker"))]
Field = Annotated[str, Form(max_length=320)]


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
        return await show(request, session, referral_id, filters)

    async def show(
        request: Request,
        session: WebSession,
        referral_id: str,
        filters: ServiceFilters | None,
        error: str | None = None,
    ) -> HTMLResponse:
        page = await finder.find(session.caller, referral_id, filters)
        return render(
            request,
            "worker_services.html",
            session,
            status_code=409 if error else 200,
            title="Find a service",
            page=page,
            need_choices=[(n.value, NEED_DISPLAY[n]) for n in NeedCategory],
            day_choices=DAYS,
            capacity_choices=CAPACITIES,
            distances=DISTANCES_KM,
            consent_methods=CONSENT_METHODS,
            error=error,
        )

    @router.post("/referrals/{referral_id}/services/{service_id}/refer")
    async def refer(
        request: Request,
        session: Poster,
        referral_id: ReferralId,
        service_id: ServiceId,
        need: Field = "",
        name: Field = "",
        phone: Field = "",
        email: Field = "",
        consent: Field = "",
        method: Field = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Refer the person to this service, with their consent and what they agreed to share."""

        async def run() -> None:
            if consent != "yes":
                raise FormProblem("Tick that the person agreed to their details being shared")
            if method not in {code for code, _ in CONSENT_METHODS}:
                raise FormProblem("Say how the person gave their consent")
            if need not in {n.value for n in NeedCategory}:
                raise FormProblem("Choose the need this service is for")
            if not name.strip():
                raise FormProblem("Give the person's name")
            if not (phone.strip() or email.strip()):
                raise FormProblem(
                    "Share the person's phone or e-mail, so the service can reach them"
                )
            await finder.refer(
                session.caller,
                ReferOnward(
                    referral_id=referral_id,
                    service_id=service_id,
                    need=need,
                    name=name.strip(),
                    phone=phone.strip() or None,
                    email=email.strip() or None,
                    consent_method=method,
                    note=forms.note(note, what="The note for the service"),
                ),
            )

        return await act(
            run,
            f"/worker/referrals/{referral_id}?done=referred",
            lambda message: show(request, session, referral_id, None, message),
        )

    return router
