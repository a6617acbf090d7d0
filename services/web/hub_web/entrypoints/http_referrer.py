"""Referrer pages: the organisation's referrals with their timelines, refusals, resubmitting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from hub_common.agency_formats import inbound_sources
from hub_web.adapters.hub_api import ApiRefused
from hub_web.entrypoints.forms import FormProblem
from hub_web.entrypoints.pages import render
from hub_web.entrypoints.sessions import WebSession, poster, viewer
from hub_web.service_layer.commands import ResubmitReferral
from hub_web.service_layer.referrer_desk import Correction, ReferrerDesk

TaskId = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,64}$")]
Viewer = Annotated[WebSession, Depends(viewer("agency"))]
Poster = Annotated[WebSession, Depends(poster("agency"))]
MAX_BODY_CHARS = 1_000_000  # intake's own limit on a referral's size
FIELD_PREFIX = "f."  # a correction form's inputs are named `f.<path in the document>`
MAX_FIELD_CHARS = 10_000


def referrer_router(desk: ReferrerDesk) -> APIRouter:
    router = APIRouter(prefix="/referrer")

    async def show_form(
        request: Request,
        session: WebSession,
        rejection: str | None,
        *,
        body: str = "",
        source: str | None = None,
        error: str | None = None,
        results: list[object] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        correction = await desk.correction(session.caller, rejection) if rejection else None
        return render_form(
            request,
            session,
            correction,
            body=body or (correction.text if correction else ""),
            source=source,
            error=error,
            results=results,
            status_code=status_code,
        )

    def render_form(
        request: Request,
        session: WebSession,
        correction: Correction | None,
        *,
        body: str = "",
        source: str | None = None,
        error: str | None = None,
        results: list[object] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        refused = correction.rejection if correction else None
        return render(
            request,
            "referrer_resubmit.html",
            session,
            status_code=status_code,
            title="Correct and resubmit",
            rejection=refused,
            form=correction.form if correction else None,
            # An agency token naming no formats may send any (intake's rule).
            sources=session.caller.principal.sources or inbound_sources(),
            source=source or (correction.source if correction else None),
            body=body,
            error=error,
            results=results,
        )

    @router.get("", response_class=HTMLResponse)
    async def referrals(request: Request, session: Viewer) -> HTMLResponse:
        """Your organisation's referrals with a timeline each, and those refused at intake."""
        return render(
            request,
            "referrer_referrals.html",
            session,
            title="Our referrals",
            referrals=await desk.referrals(session.caller),
        )

    @router.get("/referrals/{task_id}", response_class=HTMLResponse)
    async def referral(request: Request, session: Viewer, task_id: TaskId) -> HTMLResponse:
        """One referral's timeline, or why it was refused."""
        task, milestones = await desk.referral(session.caller, task_id)
        return render(
            request,
            "referrer_referral.html",
            session,
            title="Referral",
            task=task,
            milestones=milestones,
        )

    @router.get("/resubmit", response_class=HTMLResponse)
    async def resubmit_form(
        request: Request,
        session: Viewer,
        rejection: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9.\-]{1,64}$")] = None,
    ) -> HTMLResponse:
        """The form to send a corrected referral."""
        return await show_form(request, session, rejection)

    @router.post("/resubmit", response_class=HTMLResponse)
    async def resubmit(
        request: Request,
        session: Poster,
        source: Annotated[str, Form(max_length=32)] = "",
        body: Annotated[str, Form(max_length=MAX_BODY_CHARS)] = "",
        rejection: Annotated[str | None, Form(pattern=r"^[A-Za-z0-9.\-]{1,64}$")] = None,
    ) -> Response:
        """Send the corrected referral to intake as your organisation; show what it said."""
        sources = session.caller.principal.sources or inbound_sources()
        try:
            if source not in sources:
                raise FormProblem("Choose one of the formats your organisation sends")
            if not body.strip():
                raise FormProblem("Paste the corrected referral")
            results = await desk.resubmit(
                session.caller, ResubmitReferral(source, body.encode("utf-8"))
            )
        except (FormProblem, ApiRefused) as problem:
            if isinstance(problem, ApiRefused) and problem.status == 401:
                raise
            return await show_form(
                request,
                session,
                rejection,
                body=body,
                source=source,
                error=problem.message if isinstance(problem, ApiRefused) else str(problem),
                status_code=422,
            )
        # Shown in place, not redirected: the answer exists only now, and nothing is stored.
        return await show_form(
            request, session, rejection, body=body, source=source, results=list(results)
        )

    @router.post("/resubmit/form", response_class=HTMLResponse)
    async def resubmit_form_fields(
        request: Request,
        session: Poster,
        rejection: Annotated[str, Form(pattern=r"^[A-Za-z0-9.\-]{1,64}$")],
    ) -> Response:
        """Send the refused referral again with the form's corrections, as its own format.
        Refused again: the form again, with what was typed and the new reasons marked."""
        posted = await request.form()
        entered = {
            name.removeprefix(FIELD_PREFIX): value[:MAX_FIELD_CHARS]
            for name, value in posted.multi_items()
            if name.startswith(FIELD_PREFIX) and isinstance(value, str)
        }
        try:
            results, correction = await desk.resubmit_corrected(session.caller, rejection, entered)
        except ApiRefused as problem:
            if problem.status == 401:
                raise
            return render_form(
                request,
                session,
                await desk.correction(session.caller, rejection, entered),
                error=problem.message,
                status_code=422,
            )
        except LookupError:
            return await show_form(
                request,
                session,
                rejection,
                error="This referral can no longer be filled in for you: paste it below",
                status_code=422,
            )
        refused = any(result.status == "rejected" for result in results)
        # Shown in place, not redirected: the answer exists only now, and nothing is stored.
        return render_form(
            request,
            session,
            correction,
            results=list(results),
            status_code=422 if refused else 200,
        )

    return router
