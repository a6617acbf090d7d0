"""The audit trail of personal data: who read or changed which referral, when, and from where.

Every service records an AuditEntry for each HTTP call that discloses or changes personal data,
on the `hub.audit` topic through its own outbox; the notifier keeps them in an append-only
table that coordinators query. An entry names things by hub id only: never a name, an NHS
number, an address or free text, so the trail itself holds no personal data to leak.

A change's entry is staged in the change's own transaction (both or neither). A read's entry is
committed before the data leaves the service: no audit, no data (`AuditLog.read` answers 503
when it cannot record).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from hub_common.fhir.systems import PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics
from hub_common.security.auth import ROLES, Principal

log = logging.getLogger(__name__)

AuditAction = Literal["read", "create", "update", "export"]
AUDIT_ACTIONS: tuple[str, ...] = get_args(AuditAction)
AUDIT_EVENT_TYPE = "PersonalDataAccessed"
AUDIT_PUBLICATION = (
    "Audit entries: who (role, subject, organisation) read, created, changed or exported which "
    "referrals (hub ids only), when, and from where; kept append-only by the notifier"
)

# Widths of the notifier's audit_log columns: longer values are cut here, not refused there.
MAX_FORWARDED_FOR = 500
MAX_SUBJECT = 200


@dataclass(frozen=True)
class AuditEntry:
    """One access to personal data. `outcome` is the HTTP status of a read, `ok` for a change
    made, or for a submission what came of it (accepted, duplicate, rejected, unreadable)."""

    service: str
    actor_role: str
    actor_subject: str
    actor_organisation: str | None
    action: AuditAction
    resource_type: str
    method: str
    route: str  # the route template (`/fhir/Task/{task_id}`): no query, no raw URL
    peer: str | None  # the TCP peer (request.client.host)
    forwarded_for: str | None  # X-Forwarded-For exactly as reported (a proxy may have lied)
    outcome: str = "ok"
    resource_ids: tuple[str, ...] = ()
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def about(self, resource_ids: Iterable[str], outcome: str | None = None) -> AuditEntry:
        """The same entry naming what was touched (known only once the work is done)."""
        return replace(
            self, resource_ids=tuple(dict.fromkeys(resource_ids)), outcome=outcome or self.outcome
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "at": self.at.isoformat(),
            "service": self.service,
            "actor": {
                "role": self.actor_role,
                "subject": self.actor_subject,
                "organisation": self.actor_organisation,
            },
            "action": self.action,
            # Not `resourceType`: FHIR tools take any object with that key for a resource.
            "resourceKind": self.resource_type,
            "resourceIds": list(self.resource_ids),
            "request": {
                "method": self.method,
                "route": self.route,
                "peer": self.peer,
                "forwardedFor": self.forwarded_for,
            },
            "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> AuditEntry:
        """The entry a `hub.audit` message carries; ValueError when it is not one."""
        try:
            actor, request = value["actor"], value["request"]
            at = datetime.fromisoformat(value["at"])
            entry = cls(
                event_id=_text(value["eventId"]),
                at=at if at.tzinfo else at.replace(tzinfo=UTC),
                service=_text(value["service"]),
                actor_role=_text(actor["role"]),
                actor_subject=_text(actor["subject"]),
                actor_organisation=_optional_text(actor.get("organisation")),
                action=value["action"],
                # Entries staged before the rename still say `resourceType`.
                resource_type=_text(value.get("resourceKind", value.get("resourceType"))),
                resource_ids=tuple(_text(i) for i in _list(value["resourceIds"])),
                method=_text(request["method"]),
                route=_text(request["route"]),
                peer=_optional_text(request.get("peer")),
                forwarded_for=_optional_text(request.get("forwardedFor")),
                outcome=_text(value["outcome"]),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not an audit entry ({type(error).__name__})") from None
        if entry.action not in AUDIT_ACTIONS:
            raise ValueError("not an audit action")
        if entry.actor_role not in ROLES:
            raise ValueError("not a role")
        return entry


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def route_template(request: Request) -> str:
    """The matched route's template, so ids typed into the URL are never copied as they are;
    the bare path only when no route matched (it is then no id of ours)."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else "(unmatched)"


def audit_entry(
    request: Request,
    principal: Principal,
    action: AuditAction,
    resource_type: str,
    resource_ids: Iterable[str] = (),
    *,
    service: str,
    outcome: str = "ok",
) -> AuditEntry:
    """An entry for the caller of `request`: who (from the verified token), from where."""
    forwarded = request.headers.get("x-forwarded-for")
    return AuditEntry(
        service=service,
        actor_role=principal.role,
        actor_subject=principal.subject[:MAX_SUBJECT],
        actor_organisation=principal.organisation[:MAX_SUBJECT] if principal.organisation else None,
        action=action,
        resource_type=resource_type,
        resource_ids=tuple(dict.fromkeys(resource_ids)),
        method=request.method,
        route=route_template(request),
        peer=request.client.host if request.client else None,
        forwarded_for=forwarded[:MAX_FORWARDED_FOR] if forwarded else None,
        outcome=outcome,
    )


def audit_event(topics: Topics, entry: AuditEntry) -> OutgoingEvent:
    """The `hub.audit` message; its event id is the entry's, which the store deduplicates on."""
    envelope = replace(Envelope.new(AUDIT_EVENT_TYPE, PLAIN_JSON), event_id=entry.event_id)
    key = entry.resource_ids[0] if entry.resource_ids else entry.event_id
    return OutgoingEvent(
        topic=topics.audit, key=key, value=dumps(entry.to_json()), envelope=envelope
    )


async def stage_audit(
    db: AsyncSession | AsyncConnection, outbox: Table, topics: Topics, entry: AuditEntry
) -> None:
    """Add the entry to the service's outbox in the caller's transaction (with the change)."""
    await add_to_outbox(db, outbox, [audit_event(topics, entry)])


class AuditUnavailable(HTTPException):
    """The audit entry of a read could not be recorded, so the data is not sent."""

    def __init__(self) -> None:
        super().__init__(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the access could not be recorded in the audit log; try again",
        )


class AuditLog:
    """Records reads in their own transaction, committed before the answer leaves."""

    def __init__(
        self,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        topics: Topics,
    ) -> None:
        self.service = service
        self.topics = topics
        self._sessions = sessions
        self._outbox = outbox

    def entry(
        self,
        request: Request,
        principal: Principal,
        action: AuditAction,
        resource_type: str,
        resource_ids: Iterable[str] = (),
        outcome: str = "ok",
    ) -> AuditEntry:
        return audit_entry(
            request,
            principal,
            action,
            resource_type,
            resource_ids,
            service=self.service,
            outcome=outcome,
        )

    async def read(
        self,
        request: Request,
        principal: Principal,
        resource_type: str,
        resource_ids: Iterable[str],
        *,
        action: AuditAction = "read",
        outcome: str = "200",
    ) -> None:
        """Record a read of `resource_ids`; raises AuditUnavailable (503) if it cannot."""
        await self.record(
            self.entry(request, principal, action, resource_type, resource_ids, outcome)
        )

    async def record(self, entry: AuditEntry) -> None:
        try:
            async with self._sessions.begin() as session:
                await stage_audit(session, self._outbox, self.topics, entry)
        except (SQLAlchemyError, OSError) as error:
            log.error("audit entry %s not recorded: %s", entry.event_id, type(error).__name__)
            raise AuditUnavailable() from None


def audit_log_of(request: Request) -> AuditLog:
    """The service's AuditLog (set on `app.state.audit` by its composition root)."""
    audit: AuditLog = request.app.state.audit
    return audit


AuditLogDep = Annotated[AuditLog, Depends(audit_log_of)]


def ids_of(resources: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ids of FHIR resources (or rows keyed `id`) that an answer carries."""
    return [str(r["id"]) for r in resources if r.get("id") is not None]
