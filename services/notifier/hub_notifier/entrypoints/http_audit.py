"""HTTP entrypoint of the audit trail: who read or changed which referral, when, from where.

Coordinators (the hub's data-governance role) and operators see every entry: an entry holds
ids only, and a borough scope would hide the reads of rejected referrals (no borough) and of
searches that spanned boroughs. Reading the trail is not itself audited: it discloses no
personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from hub_common.security.audit import AuditAction
from hub_common.security.auth import Principal, require
from hub_notifier.service_layer.audit_trail import MAX_LIMIT, AuditQuery, AuditTrail

AuditReader = Annotated[Principal, Depends(require("coordinator", "operator"))]


class Actor(BaseModel):
    role: str
    subject: str = Field(description="The token's subject: a worker id, an agency, a login")
    organisation: str | None = Field(description="The agency's `system|value`, for agencies")


class RequestFacts(BaseModel):
    method: str
    route: str = Field(description="The route template called (ids and queries left out)")
    peer: str | None = Field(description="The address the connection came from")
    forwarded_for: str | None = Field(
        serialization_alias="forwardedFor",
        description="X-Forwarded-For as the request reported it (unverified)",
    )


class AuditRecord(BaseModel):
    """One read or change of personal data."""

    event_id: str = Field(serialization_alias="eventId")
    at: datetime
    service: str = Field(description="intake, router or notifier")
    actor: Actor
    action: AuditAction
    resource_type: str = Field(
        serialization_alias="resourceKind",
        description="The kind of record touched (Task, ServiceRequest...); not a FHIR resource",
    )
    resource_ids: list[str] = Field(
        serialization_alias="resourceIds", description="Hub ids of what was read or changed"
    )
    request: RequestFacts
    outcome: str = Field(
        description="HTTP status of a read, `ok` for a change, or what came of a submission"
    )


class AuditAnswer(BaseModel):
    """Matching entries, newest first."""

    entries: list[AuditRecord]


def _utc(instant: datetime | None) -> datetime | None:
    """An instant without a zone is taken as UTC, the zone every entry is recorded in."""
    if instant is None or instant.tzinfo is not None:
        return instant
    return instant.replace(tzinfo=UTC)


def audit_router(trail: AuditTrail) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit",
        response_model=AuditAnswer,
        response_model_by_alias=True,
        responses={
            401: {"description": "No valid credentials"},
            403: {"description": "Not a coordinator or operator"},
        },
    )
    async def audit(
        _reader: AuditReader,
        resource: Annotated[
            str | None, Query(max_length=64, description="A referral (or other resource) id")
        ] = None,
        actor: Annotated[str | None, Query(max_length=200, description="Actor subject")] = None,
        action: Annotated[AuditAction | None, Query()] = None,
        since: Annotated[
            datetime | None, Query(description="From this instant (inclusive)")
        ] = None,
        until: Annotated[datetime | None, Query(description="Before this instant")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> AuditAnswer:
        """Audit entries matching every filter given, newest first."""
        rows = await trail.search(
            AuditQuery(
                resource_id=resource,
                actor_subject=actor,
                action=action,
                since=_utc(since),
                until=_utc(until),
                limit=limit,
            )
        )
        return AuditAnswer(
            entries=[
                AuditRecord(
                    event_id=row.event_id,
                    at=row.at,
                    service=row.service,
                    actor=Actor(
                        role=row.actor_role,
                        subject=row.actor_subject,
                        organisation=row.actor_organisation,
                    ),
                    action=row.action,
                    resource_type=row.resource_type,
                    resource_ids=list(row.resource_ids),
                    request=RequestFacts(
                        method=row.method,
                        route=row.route,
                        peer=row.peer,
                        forwarded_for=row.forwarded_for,
                    ),
                    outcome=row.outcome,
                )
                for row in rows
            ]
        )

    return router
