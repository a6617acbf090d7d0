"""HTTP entrypoints of onward referral (the shared Task routes dispatch here by role).

- `POST /fhir/Task/<id>/$refer-onward` (link worker): send the person to a directory service,
  with their consent to share recorded; answers the new onward Task (201).
- `POST /fhir/Task/<onward id>/$attendance` (organisation): the person is `attending`, has
  `attended` (completed) or `did-not-attend` (failed).
- `GET /fhir/ServiceRequest/<onward id>` (organisation): who the person is and how to reach
  them, for the organisation the referral was sent to; every read is audited.

An organisation also uses `GET /fhir/Task`, `GET /fhir/Task/<id>`, `$accept` and `$decline`
(http_tasks.py), which answer it from its onward Tasks only. Anything not sent to the caller's
organisation answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub_common.fhir.needs import NeedCategory
from hub_common.messaging.envelope import TRACEPARENT
from hub_common.messaging.onward import OnwardKind
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_common.storage.stored_text import StorableText
from hub_router.adapters.fhir_onward import ConsentToShare, PersonToShare
from hub_router.domain.onward import OnwardReferral
from hub_router.entrypoints.http_tasks import fhir, refusal
from hub_router.service_layer.onward import OnwardReferrals, ReferOnward, UnknownService

LinkWorker = Annotated[Principal, Depends(require("link_worker"))]
Organisation = Annotated[Principal, Depends(require("organisation"))]


class PersonBody(BaseModel):
    """Only what the organisation needs to reach the person."""

    name: StorableText = Field(min_length=1, max_length=200)
    phone: StorableText | None = Field(default=None, max_length=40)
    email: StorableText | None = Field(default=None, max_length=320)

    @model_validator(mode="after")
    def reachable(self) -> PersonBody:
        if not (self.phone or self.email):
            raise ValueError("give the person's phone or email, so the service can reach them")
        return self


class ConsentBody(BaseModel):
    """The person agreed to their details going to this service."""

    model_config = ConfigDict(populate_by_name=True)

    given: Literal[True] = Field(description="must be true: no consent, no onward referral")
    recorded_at: AwareDatetime = Field(alias="recordedAt")
    method: Literal["verbal", "written", "electronic"] = "verbal"


class ReferOnwardBody(BaseModel):
    """An onward referral: the directory service, the need, the person, their consent, a note."""

    service: str = Field(min_length=1, max_length=200, description="directory service id")
    need: NeedCategory
    person: PersonBody
    consent: ConsentBody
    note: StorableText | None = Field(default=None, max_length=1000)


class AttendanceBody(BaseModel):
    """Whether the person came: attending (started), attended (completed), did-not-attend."""

    attendance: Literal["attending", "attended", "did-not-attend"]
    reason: StorableText | None = Field(default=None, max_length=500)


ATTENDANCE_KIND: dict[str, OnwardKind] = {
    "attending": "started",
    "attended": "completed",
    "did-not-attend": "failed",
}


def install_onward_errors(app: FastAPI) -> None:
    async def unknown_service(request: Request, error: Exception) -> JSONResponse:
        return refusal(422, str(error).strip("'\""), "value", "service")

    app.add_exception_handler(UnknownService, unknown_service)


def onward_router(onward: OnwardReferrals) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["onward referrals"])

    @router.post(
        "/Task/{task_id}/$refer-onward", summary="Refer the person onward", status_code=201
    )
    async def refer_onward(
        principal: LinkWorker,
        task_id: str,
        body: ReferOnwardBody,
        request: Request,
        audit: AuditLogDep,
    ) -> JSONResponse:
        """Send the person of a referral you hold to a community service in the directory."""
        task = await onward.refer(
            ReferOnward(
                referral_id=task_id,
                worker_id=principal.subject,
                service_id=body.service,
                need=body.need,
                person=PersonToShare(body.person.name, body.person.phone, body.person.email),
                consent=ConsentToShare(body.consent.recorded_at, body.consent.method),
                note=body.note,
                traceparent=request.headers.get(TRACEPARENT),
                audit=audit.entry(request, principal, "create", "ServiceRequest", [task_id]),
            )
        )
        return fhir(task, status_code=201)

    @router.post("/Task/{task_id}/$attendance", summary="Record attendance")
    async def record_attendance(
        principal: Organisation,
        task_id: str,
        body: AttendanceBody,
        request: Request,
        audit: AuditLogDep,
    ) -> JSONResponse:
        """Record whether the person came to an onward referral your organisation accepted."""
        assert principal.organisation  # an organisation token always names one
        reason = body.reason

        def change(o: OnwardReferral) -> OnwardReferral:
            if body.attendance == "attending":
                return o.start()
            if body.attendance == "attended":
                return o.attended()
            return o.did_not_attend(reason)

        task = await onward.answer(
            task_id,
            principal.organisation,
            change,
            ATTENDANCE_KIND[body.attendance],
            request.headers.get(TRACEPARENT),
            audit.entry(request, principal, "update", "Task", [task_id]),
        )
        return fhir(task)

    @router.get("/ServiceRequest/{request_id}", summary="Read an onward referral's person")
    async def read_onward_request(
        principal: Organisation, request_id: str, request: Request, audit: AuditLogDep
    ) -> JSONResponse:
        """The onward ServiceRequest (the person's name and contact, the need, the note, the
        consent), if it was sent to your organisation."""
        assert principal.organisation
        found = await onward.read_for_organisation(request_id, principal.organisation, "request")
        await audit.read(request, principal, "ServiceRequest", [request_id])
        return fhir(found)

    return router
