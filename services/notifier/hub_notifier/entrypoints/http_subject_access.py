"""HTTP entrypoints of subject access on the notifier (operators only).

- `GET /operator/subject-access/$match`: the referrals of the person named (NHS number,
  demographics or one of their referrals), from every agency; an audit entry naming them
- `GET /operator/subject-access?referral=...`: the notifier's part of the export
  (hub_common/privacy/subject_access.py), like intake's and the router's
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from hub_common.privacy.subject_access import ROUTE, Collector, OperatorOnly, subject_access_router
from hub_common.security.audit import AuditLogDep
from hub_notifier.service_layer.subject_access import (
    NoKey,
    SeveralPeople,
    SubjectFinder,
    SubjectKeys,
)


class Matched(BaseModel):
    """The person's referrals, oldest first: ask each service for its part with these."""

    referral_ids: list[str] = Field(alias="referralIds")


def subject_access_routes(finder: SubjectFinder, collect: Collector) -> APIRouter:
    router = APIRouter(tags=["operator"])

    @router.get(
        f"{ROUTE}/$match",
        response_model=Matched,
        response_model_by_alias=True,
        responses={
            401: {"description": "No valid credentials"},
            403: {"description": "Not an operator"},
            409: {"description": "The keys fit more than one person"},
            422: {"description": "No key that can name a person"},
        },
    )
    async def match(
        request: Request,
        operator: OperatorOnly,
        audit: AuditLogDep,
        nhs_number: Annotated[str | None, Query(alias="nhs-number", max_length=20)] = None,
        family: Annotated[str | None, Query(max_length=200)] = None,
        birthdate: Annotated[date | None, Query()] = None,
        postcode: Annotated[str | None, Query(max_length=10)] = None,
        referral: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Matched:
        """Every referral of the one person the keys given fit (all must agree)."""
        keys = SubjectKeys(nhs_number, family, birthdate, postcode, referral)
        try:
            found = await finder.referrals(keys)
        except NoKey as error:
            raise HTTPException(422, detail=str(error)) from None
        except SeveralPeople as error:
            raise HTTPException(409, detail=str(error)) from None
        await audit.read(request, operator, "Person", found)
        return Matched(referralIds=found)

    router.include_router(subject_access_router("notifier", collect))
    return router
