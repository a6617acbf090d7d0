"""HTTP entrypoints for one person's referrals from several agencies.

- `GET /people/referrals/{referral_id}`: every referral of the person this one is about (the
  link worker who owns it, coordinators of its borough), each read an audit entry
- `GET /coordination/people/reviews`: pairs the matching left to a coordinator ("Same
  person?"), both people's details side by side, each read an audit entry
- `POST /coordination/people/reviews/{review_id}/$confirm` and `/$split`: the decision, on
  record with its audit entry
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_notifier.domain.access import Reader
from hub_notifier.service_layer.people import Decision, PeopleService, ReviewConflict

Coordinator = Annotated[Principal, Depends(require("coordinator"))]
Viewer = Annotated[Principal, Depends(require("coordinator", "link_worker"))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown, or not yours: the same answer"}
}


class SamePerson(BaseModel):
    """The person's referrals, oldest first, this one included."""

    referral_id: str = Field(alias="referralId")
    referrals: list[dict[str, Any]] = Field(
        description="Each: referralId, source, receivedAt, borough, status, businessStatus, "
        "open, episode (the person's open referral), linkedBy (self | nhs-number | "
        "demographics | coordinator)"
    )


class Reviews(BaseModel):
    """Pairs waiting for a coordinator, oldest first."""

    reviews: list[dict[str, Any]] = Field(
        description="Each: reviewId, score, fields (each field's similarity), swappedNames, "
        "createdAt, referral and other (referralId, source, receivedAt, borough, nhsNumber, "
        "birthDate, family, given, postcode, phone: normalised)"
    )


class Decided(BaseModel):
    review_id: str = Field(alias="reviewId")
    status: str = Field(description="confirmed | split")
    referrals: list[str]


def people_router(service: PeopleService) -> APIRouter:
    router = APIRouter(tags=["people"])

    @router.get(
        "/people/referrals/{referral_id}",
        summary="Other referrals of this person",
        responses=NOT_FOUND,
        response_model_by_alias=True,
    )
    async def same_person(
        referral_id: str, principal: Viewer, request: Request, audit: AuditLogDep
    ) -> SamePerson:
        """The referrals of the person this referral is about, from every agency: linked on
        the NHS number, on demographics when certain, or by a coordinator."""
        reader = (
            Reader(worker=principal.subject)
            if principal.role == "link_worker"
            else Reader(boroughs=frozenset(principal.boroughs))
        )
        referrals = await service.same_person(reader, referral_id)
        if referrals is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such referral")
        ids = [r["referralId"] for r in referrals]
        await audit.read(request, principal, "ServiceRequest", ids)
        return SamePerson(referralId=referral_id, referrals=referrals)

    @router.get("/coordination/people/reviews", summary="Same person? Pairs to decide")
    async def reviews(
        principal: Coordinator,
        request: Request,
        audit: AuditLogDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Reviews:
        """Pairs of referrals in your boroughs that may be one person, with both people's
        details, for you to confirm or split."""
        found = await service.pending_reviews(frozenset(principal.boroughs), limit)
        if found:
            ids = sorted(
                {r["referral"]["referralId"] for r in found}
                | {r["other"]["referralId"] for r in found}
            )
            await audit.read(request, principal, "ServiceRequest", ids)
        return Reviews(reviews=found)

    async def decide(
        review_id: str, decision: Decision, principal: Principal, request: Request, audit: Any
    ) -> Decided:
        entry = audit.entry(request, principal, "update", "ServiceRequest")
        try:
            decided = await service.decide(
                frozenset(principal.boroughs), review_id, decision, principal.subject, entry
            )
        except ReviewConflict as conflict:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(conflict)) from None
        if decided is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such review")
        return Decided(**decided)

    @router.post(
        "/coordination/people/reviews/{review_id}/$confirm",
        summary="The same person: link them",
        responses={**NOT_FOUND, 409: {"description": "Decided already, or two NHS numbers"}},
    )
    async def confirm(
        review_id: str, principal: Coordinator, request: Request, audit: AuditLogDep
    ) -> Decided:
        """The two referrals are one person: their people become one."""
        return await decide(review_id, "confirm", principal, request, audit)

    @router.post(
        "/coordination/people/reviews/{review_id}/$split",
        summary="Not the same person",
        responses={**NOT_FOUND, 409: {"description": "Decided already"}},
    )
    async def split(
        review_id: str, principal: Coordinator, request: Request, audit: AuditLogDep
    ) -> Decided:
        """Two people: the pair is never asked about again."""
        return await decide(review_id, "split", principal, request, audit)

    return router
