"""HTTP entrypoints for operators: erasure and restriction of one person's data (UK GDPR
articles 17 and 18), applied by every service through `hub.data-protection`.

The person is named by NHS number or by one of their referrals' ids; the answer (202) names
the request, whose progress `GET /operator/data-protection/{id}` shows, service by service.
Each request is an audit entry. Nothing here answers with personal data.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field, model_validator

from hub_common.security.audit import AuditLogDep
from hub_notifier.entrypoints.fhir_http import OperatorDep
from hub_notifier.service_layer.data_protection import NobodyFound, NotifierDataProtection


class PersonNamed(BaseModel):
    """Who the request is about: exactly one of an NHS number and a referral id."""

    nhs_number: str | None = Field(default=None, alias="nhsNumber", max_length=20)
    referral_id: str | None = Field(default=None, alias="referralId", max_length=64)

    @model_validator(mode="after")
    def _one_of(self) -> PersonNamed:
        if bool(self.nhs_number) == bool(self.referral_id):
            raise ValueError("name the person by nhsNumber or by referralId (one of them)")
        if self.nhs_number and not re.fullmatch(r"\d{10}", re.sub(r"\s", "", self.nhs_number)):
            raise ValueError("nhsNumber must be ten digits")
        return self


class Requested(BaseModel):
    request_id: str = Field(serialization_alias="requestId")
    action: Literal["erase", "restrict", "lift"]
    referrals: int = Field(description="How many of the hub's referrals it covers")
    status: str = Field(
        default="/operator/data-protection/{requestId}", description="Where to follow it"
    )


def data_protection_router(service: NotifierDataProtection) -> APIRouter:
    router = APIRouter(prefix="/operator", tags=["operator"])

    async def make(
        action: Literal["erase", "restrict"],
        person: PersonNamed,
        request: Request,
        operator: Any,
        audit: Any,
    ) -> Requested:
        entry = audit.entry(request, operator, "update", "DataProtectionRequest")
        nhs = re.sub(r"\s", "", person.nhs_number) if person.nhs_number else None
        try:
            made = await service.request(
                action, entry, nhs_number=nhs, referral_id=person.referral_id
            )
        except NobodyFound:
            raise HTTPException(404, detail="no referral of the hub names this person") from None
        return Requested(
            request_id=made.request_id,
            action=action,
            referrals=len(made.referral_ids),
            status=f"/operator/data-protection/{made.request_id}",
        )

    @router.post(
        "/erasure",
        status_code=202,
        response_model=Requested,
        response_model_by_alias=True,
        responses={404: {"description": "No referral names this person"}},
    )
    async def erase(
        person: Annotated[PersonNamed, Body()],
        request: Request,
        operator: OperatorDep,
        audit: AuditLogDep,
    ) -> Requested:
        """Erase the person from every service's store and from the topics (not reversible)."""
        return await make("erase", person, request, operator, audit)

    @router.post(
        "/restriction",
        status_code=202,
        response_model=Requested,
        response_model_by_alias=True,
        responses={404: {"description": "No referral names this person"}},
    )
    async def restrict(
        person: Annotated[PersonNamed, Body()],
        request: Request,
        operator: OperatorDep,
        audit: AuditLogDep,
    ) -> Requested:
        """Restrict processing: the person's referrals are kept but not routed, and nobody is
        notified about them, until the restriction is lifted."""
        return await make("restrict", person, request, operator, audit)

    @router.post(
        "/restriction/{restriction_id}/$lift",
        status_code=202,
        response_model=Requested,
        response_model_by_alias=True,
        responses={404: {"description": "No restriction in force with this id"}},
    )
    async def lift(
        restriction_id: str, request: Request, operator: OperatorDep, audit: AuditLogDep
    ) -> Requested:
        """Lift a restriction: held referrals are routed, notifications resume."""
        entry = audit.entry(request, operator, "update", "DataProtectionRequest")
        try:
            made = await service.lift(restriction_id, entry)
        except NobodyFound:
            raise HTTPException(404, detail="no restriction in force with this id") from None
        return Requested(
            request_id=made.request_id,
            action="lift",
            referrals=len(made.referral_ids),
            status=f"/operator/data-protection/{made.request_id}",
        )

    @router.get(
        "/data-protection/{request_id}",
        responses={404: {"description": "No request with this id"}},
    )
    async def progress(request_id: str, _operator: OperatorDep) -> dict[str, Any]:
        """The request (ids only) and the services that have applied it, with when."""
        found = await service.status(request_id)
        if found is None:
            raise HTTPException(404, detail="no data protection request with this id")
        return found

    return router
