"""Link worker pages: the offers inbox, the caseload, and one referral's progress forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from hub_common.fhir.needs import NEED_DISPLAY, NeedCategory
from hub_common.fhir.task_outputs import SUPPORT_DISPLAY, SupportKind
from hub_common.fhir.wellbeing import INSTRUMENTS
from hub_web.domain.progress import NEEDS_NOTE
from hub_web.entrypoints import forms
from hub_web.entrypoints.pages import act, render
from hub_web.entrypoints.sessions import WebSession, poster, viewer
from hub_web.service_layer.commands import (
    CloseReferral,
    DeclineOffer,
    RecordCarePlan,
    RecordFirstContact,
    RecordProgress,
)
from hub_web.service_layer.worker_desk import OFFER_SORTS, OfferFilter, WorkerDesk

ReferralId = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,64}$")]
Viewer = Annotated[WebSession, Depends(viewer("link_worker"))]
Poster = Annotated[WebSession, Depends(poster("link_worker"))]


def worker_router(desk: WorkerDesk) -> APIRouter:
    router = APIRouter(prefix="/worker")

    async def _answers(request: Request) -> tuple[tuple[str, int], ...]:
        # The fields are the region's instrument's items, so they are read from the form as a
        # whole rather than declared one by one.
        fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        return forms.answers(fields, INSTRUMENTS[desk.instrument])

    async def show_desk(
        request: Request,
        session: WebSession,
        template: str,
        error: str | None = None,
        offer_filter: OfferFilter | None = None,
    ) -> HTMLResponse:
        chosen = offer_filter or OfferFilter()
        return render(
            request,
            template,
            session,
            status_code=409 if error else 200,
            title="Offers" if template == "worker_inbox.html" else "Caseload",
            desk=await desk.desk(session.caller, chosen),
            offer_filter=chosen,
            sorts=OFFER_SORTS,
            need_labels_by_code={need.value: NEED_DISPLAY[need] for need in NeedCategory},
            error=error,
        )

    async def show_referral(
        request: Request, session: WebSession, referral_id: str, error: str | None = None
    ) -> HTMLResponse:
        return render(
            request,
            "worker_referral.html",
            session,
            status_code=409 if error else 200,
            title="Referral",
            page=await desk.referral(session.caller, referral_id),
            instrument=INSTRUMENTS[desk.instrument],
            need_choices=[(need.value, NEED_DISPLAY[need]) for need in NeedCategory],
            kind_choices=[(kind.value, SUPPORT_DISPLAY[kind]) for kind in SupportKind],
            support_row_count=forms.SUPPORT_ROWS,
            needs_note=NEEDS_NOTE,
            max_summary=forms.MAX_SUMMARY_CHARS,
            plan_rows=forms.PLAN_ROWS,
            action_by=forms.ACTION_BY,
            error=error,
        )

    @router.get("", response_class=HTMLResponse)
    async def inbox(
        request: Request,
        session: Viewer,
        need: Annotated[str, Query(max_length=40)] = "",
        language: Annotated[str, Query(max_length=20)] = "",
        sort: Annotated[str, Query(max_length=20)] = "deadline",
    ) -> HTMLResponse:
        """Offers waiting for your answer, soonest deadline first, narrowed as you choose."""
        chosen = OfferFilter(need, language, sort if sort in OFFER_SORTS else "deadline")
        return await show_desk(request, session, "worker_inbox.html", offer_filter=chosen)

    @router.get("/caseload", response_class=HTMLResponse)
    async def caseload(request: Request, session: Viewer) -> HTMLResponse:
        """Your open referrals by status."""
        return await show_desk(request, session, "worker_caseload.html")

    @router.get("/referrals/{referral_id}", response_class=HTMLResponse)
    async def referral(request: Request, session: Viewer, referral_id: ReferralId) -> HTMLResponse:
        """One referral you hold or are offered, with the forms to move it on."""
        return await show_referral(request, session, referral_id)

    @router.post("/referrals/{referral_id}/accept")
    async def accept(request: Request, session: Poster, referral_id: ReferralId) -> Response:
        """Take on an offered referral."""
        return await act(
            lambda: desk.accept(session.caller, referral_id),
            f"/worker/referrals/{referral_id}?done=accepted",
            lambda message: show_desk(request, session, "worker_inbox.html", message),
        )

    @router.post("/referrals/{referral_id}/decline")
    async def decline(
        request: Request,
        session: Poster,
        referral_id: ReferralId,
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Turn an offer down, with the reason (kept for coordinators)."""

        async def run() -> None:
            text = forms.note(reason, required=True, what="A reason for declining")
            await desk.decline(session.caller, DeclineOffer(referral_id, text or ""))

        return await act(
            run,
            "/worker?done=declined",
            lambda message: show_desk(request, session, "worker_inbox.html", message),
        )

    @router.post("/referrals/{referral_id}/care-plan")
    async def care_plan(request: Request, session: Poster, referral_id: ReferralId) -> Response:
        """Record a new version of the care and support plan agreed with the person."""

        async def run() -> None:
            fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            body, version = forms.care_plan(fields)
            await desk.record_care_plan(session.caller, RecordCarePlan(referral_id, body, version))

        return await act(
            run,
            f"/worker/referrals/{referral_id}?done=care-plan",
            lambda message: show_referral(request, session, referral_id, message),
        )

    @router.post("/referrals/{referral_id}/progress")
    async def progress(
        request: Request,
        session: Poster,
        referral_id: ReferralId,
        status: Annotated[str, Form(max_length=40)] = "",
        step: Annotated[str, Form(max_length=40)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Move the referral to a new status or step, with a note."""

        async def run() -> None:
            command = RecordProgress(
                referral_id,
                status or None,
                step or None,
                forms.note(note, required=status in NEEDS_NOTE, what="A note"),
            )
            await desk.record_progress(session.caller, command)

        return await act(
            run,
            f"/worker/referrals/{referral_id}?done=progress",
            lambda message: show_referral(request, session, referral_id, message),
        )

    @router.post("/referrals/{referral_id}/first-contact")
    async def first_contact(
        request: Request,
        session: Poster,
        referral_id: ReferralId,
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Record first contact with the person and their wellbeing answers."""

        async def run() -> None:
            answers = await _answers(request)
            command = RecordFirstContact(referral_id, answers, forms.note(note))
            await desk.record_first_contact(session.caller, command)

        return await act(
            run,
            f"/worker/referrals/{referral_id}?done=first-contact",
            lambda message: show_referral(request, session, referral_id, message),
        )

    @router.post("/referrals/{referral_id}/close")
    async def close(
        request: Request,
        session: Poster,
        referral_id: ReferralId,
        support_need: Annotated[list[str], Form(alias="support-need")] = [],  # noqa: B006
        support_service: Annotated[list[str], Form(alias="support-service")] = [],  # noqa: B006
        support_kind: Annotated[list[str], Form(alias="support-kind")] = [],  # noqa: B006
        summary: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """Complete the referral with the closing wellbeing answers and the support offered."""

        async def run() -> None:
            command = CloseReferral(
                referral_id,
                await _answers(request),
                forms.support(support_need, support_service, support_kind),
                forms.summary(summary),
            )
            await desk.close(session.caller, command)

        return await act(
            run,
            f"/worker/referrals/{referral_id}?done=closed",
            lambda message: show_referral(request, session, referral_id, message),
        )

    return router
