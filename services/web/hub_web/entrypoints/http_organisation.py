"""The organisation's pages: its inbox of onward referrals, one referral with the person as
shared, accept, decline with a reason, and attendance. The router answers an organisation
only about referrals sent to it (anything else is 404), so these pages cannot show more."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from fastapi.responses import HTMLResponse

from hub_web.domain.onward import ATTENDANCE_CHOICES
from hub_web.entrypoints import forms
from hub_web.entrypoints.forms import FormProblem
from hub_web.entrypoints.pages import act, render
from hub_web.entrypoints.sessions import WebSession, poster, viewer
from hub_web.service_layer.organisation_desk import OrganisationDesk

OnwardId = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,64}$")]
Viewer = Annotated[WebSession, Depends(viewer("organisation"))]
Poster = Annotated[WebSession, Depends(poster("organisation"))]


def organisation_router(desk: OrganisationDesk) -> APIRouter:
    router = APIRouter(prefix="/organisation")

    async def show(
        request: Request, session: WebSession, onward_id: str, error: str | None = None
    ) -> HTMLResponse:
        return render(
            request,
            "organisation_referral.html",
            session,
            status_code=409 if error else 200,
            title="Referral to your service",
            page=await desk.referral(session.caller, onward_id),
            attendance_choices=ATTENDANCE_CHOICES,
            error=error,
        )

    @router.get("", response_class=HTMLResponse)
    async def inbox(request: Request, session: Viewer) -> HTMLResponse:
        """New referrals to answer (soonest deadline first), those taken on, the finished."""
        return render(
            request,
            "organisation_inbox.html",
            session,
            title="Referrals to us",
            inbox=await desk.inbox(session.caller),
        )

    @router.get("/referrals/{onward_id}", response_class=HTMLResponse)
    async def referral(request: Request, session: Viewer, onward_id: OnwardId) -> HTMLResponse:
        """One referral: who the person is, how to reach them, the need and the worker's note."""
        return await show(request, session, onward_id)

    @router.post("/referrals/{onward_id}/accept")
    async def accept(request: Request, session: Poster, onward_id: OnwardId) -> Response:
        return await act(
            lambda: desk.accept(session.caller, onward_id),
            f"/organisation/referrals/{onward_id}?done=org-accepted",
            lambda message: show(request, session, onward_id, message),
        )

    @router.post("/referrals/{onward_id}/decline")
    async def decline(
        request: Request,
        session: Poster,
        onward_id: OnwardId,
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Turn the referral down, with the reason the link worker will read."""

        async def run() -> None:
            text = forms.note(reason, required=True, what="A reason for declining")
            await desk.decline(session.caller, onward_id, text or "")

        return await act(
            run,
            "/organisation?done=org-declined",
            lambda message: show(request, session, onward_id, message),
        )

    @router.post("/referrals/{onward_id}/attendance")
    async def attendance(
        request: Request,
        session: Poster,
        onward_id: OnwardId,
        attended: Annotated[str, Form(max_length=20)] = "",
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Whether the person came: attending, attended or did not attend."""

        async def run() -> None:
            if attended not in {code for code, _ in ATTENDANCE_CHOICES}:
                raise FormProblem("Choose whether the person is attending, attended or did not")
            text = forms.note(reason, what="The note")
            await desk.record_attendance(session.caller, onward_id, attended, text)

        return await act(
            run,
            f"/organisation/referrals/{onward_id}?done=attendance",
            lambda message: show(request, session, onward_id, message),
        )

    return router
