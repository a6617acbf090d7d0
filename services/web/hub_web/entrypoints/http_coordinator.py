"""Coordinator pages: referrals waiting in their boroughs, assigning by hand, service level
alerts, pairs of referrals that may be one person ("Same person?"), the charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from fastapi.responses import HTMLResponse

from hub_web.domain.alerts import split_alerts
from hub_web.domain.wellbeing_change import MIN_PEOPLE
from hub_web.entrypoints.forms import FormProblem
from hub_web.entrypoints.pages import act, render
from hub_web.entrypoints.sessions import WebSession, poster, viewer
from hub_web.service_layer.commands import AssignReferral
from hub_web.service_layer.coordinator_desk import CoordinatorDesk

ReferralId = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,64}$")]
ReviewId = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-]{1,64}$")]
Viewer = Annotated[WebSession, Depends(viewer("coordinator"))]
Poster = Annotated[WebSession, Depends(poster("coordinator"))]


def coordinator_router(desk: CoordinatorDesk) -> APIRouter:
    router = APIRouter(prefix="/coordinator")

    async def show_waiting(
        request: Request, session: WebSession, error: str | None = None
    ) -> HTMLResponse:
        return render(
            request,
            "coordinator_waiting.html",
            session,
            status_code=409 if error else 200,
            title="Waiting referrals",
            referrals=await desk.waiting(session.caller),
            error=error,
        )

    @router.get("", response_class=HTMLResponse)
    async def waiting(request: Request, session: Viewer) -> HTMLResponse:
        """Referrals in your boroughs nobody could be offered, and why."""
        return await show_waiting(request, session)

    @router.post("/referrals/{referral_id}/assign")
    async def assign(
        request: Request,
        session: Poster,
        referral_id: ReferralId,
        worker: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        """Offer a waiting referral to the link worker you choose."""

        async def run() -> None:
            if not worker:
                raise FormProblem("Choose a link worker to offer the referral to")
            await desk.assign(session.caller, AssignReferral(referral_id, worker))

        return await act(
            run,
            "/coordinator?done=assigned",
            lambda message: show_waiting(request, session, message),
        )

    @router.get("/referrals/{referral_id}", response_class=HTMLResponse)
    async def referral(request: Request, session: Viewer, referral_id: ReferralId) -> HTMLResponse:
        """One referral of your boroughs: the person, where it stands, and how their wellbeing
        changed between first contact and closure."""
        return render(
            request,
            "coordinator_referral.html",
            session,
            title="Referral",
            page=await desk.referral(session.caller, referral_id),
        )

    @router.get("/alerts", response_class=HTMLResponse)
    async def alerts(request: Request, session: Viewer) -> HTMLResponse:
        """Referrals in your boroughs past a service level: escalations, then breaches."""
        escalations, breaches = split_alerts(await desk.alerts(session.caller))
        return render(
            request,
            "coordinator_alerts.html",
            session,
            title="Service level alerts",
            escalations=escalations,
            breaches=breaches,
        )

    async def show_pairs(
        request: Request, session: WebSession, error: str | None = None
    ) -> HTMLResponse:
        return render(
            request,
            "coordinator_people.html",
            session,
            status_code=409 if error else 200,
            title="Same person?",
            pairs=await desk.pairs_to_decide(session.caller),
            error=error,
            done=request.query_params.get("done"),
        )

    @router.get("/people", response_class=HTMLResponse)
    async def people(request: Request, session: Viewer) -> HTMLResponse:
        """Pairs of referrals in your boroughs that may be one person: confirm or split."""
        return await show_pairs(request, session)

    @router.post("/people/{review_id}/{decision}")
    async def decide(
        request: Request,
        session: Poster,
        review_id: ReviewId,
        decision: Annotated[str, Path(pattern=r"^(same|different)$")],
    ) -> Response:
        """The same person (their referrals are linked) or two people (never asked again)."""

        async def run() -> None:
            await desk.decide_pair(session.caller, review_id, decision == "same")

        return await act(
            run,
            f"/coordinator/people?done={decision}",
            lambda message: show_pairs(request, session, message),
        )

    @router.get("/charts", response_class=HTMLResponse)
    async def charts(request: Request, session: Viewer) -> HTMLResponse:
        """Caseloads, referrals per source per week, time to first contact, and wellbeing
        change by cohort (small cohorts suppressed)."""
        return render(
            request,
            "coordinator_charts.html",
            session,
            title="Charts",
            dashboard=await desk.dashboard(session.caller),
            min_people=MIN_PEOPLE,
        )

    return router
