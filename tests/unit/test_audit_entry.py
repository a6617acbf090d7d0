"""Building audit entries: who, what, when and from where, and nothing the URL typed in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy import MetaData
from sqlalchemy.exc import OperationalError

from hub_common.jsonio import loads
from hub_common.messaging.envelope import EVENT_ID
from hub_common.messaging.topics import Topics
from hub_common.security.audit import (
    AuditEntry,
    AuditLog,
    AuditUnavailable,
    audit_entry,
    audit_event,
    route_template,
)
from hub_common.security.auth import Principal
from hub_common.storage.db import outbox_table

AGENCY = Principal("agency", "org|cva", organisation="org|cva", sources=("community",))
WORKER = Principal("link_worker", "lw-cr-twi", name="Kwame Test")


async def _endpoint() -> None:
    return None


def request(
    path: str = "/fhir/Task/abc-123",
    template: str | None = "/fhir/Task/{task_id}",
    query: bytes = b"",
    headers: dict[str, str] | None = None,
    client: tuple[str, int] | None = ("192.0.2.10", 51515),
) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": client,
    }
    if template is not None:
        scope["route"] = APIRoute(template, _endpoint)
    return Request(scope)


def test_an_entry_names_who_what_when_and_from_where() -> None:
    before = datetime.now(UTC)
    entry = audit_entry(
        request(headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}),
        WORKER,
        "read",
        "Task",
        ["abc-123"],
        service="router",
        outcome="200",
    )
    assert (entry.actor_role, entry.actor_subject, entry.actor_organisation) == (
        "link_worker",
        "lw-cr-twi",
        None,
    )
    assert (entry.action, entry.resource_type, entry.resource_ids) == ("read", "Task", ("abc-123",))
    assert (entry.method, entry.route) == ("GET", "/fhir/Task/{task_id}")
    assert entry.peer == "192.0.2.10"
    assert entry.forwarded_for == "203.0.113.7, 10.0.0.1"  # as reported, not interpreted
    assert entry.outcome == "200" and entry.service == "router"
    assert before <= entry.at <= datetime.now(UTC) and entry.at.tzinfo is not None
    assert entry.event_id


def test_the_route_is_the_template_without_the_query_or_the_raw_path() -> None:
    typed = request(path="/fhir/Task/Gloria%20Mensah", query=b"focus=ServiceRequest/x&name=Amina")
    entry = audit_entry(typed, AGENCY, "read", "Task", service="notifier")
    assert entry.route == "/fhir/Task/{task_id}"
    assert "Gloria" not in str(entry.to_json()) and "Amina" not in str(entry.to_json())
    assert route_template(request(template=None)) == "(unmatched)"


def test_the_token_display_name_is_never_recorded() -> None:
    entry = audit_entry(request(), WORKER, "read", "Task", ["abc-123"], service="router")
    assert "Kwame" not in str(entry.to_json())


def test_no_forwarded_header_and_no_client_are_recorded_as_absent() -> None:
    entry = audit_entry(request(client=None), AGENCY, "create", "ServiceRequest", service="intake")
    assert entry.peer is None and entry.forwarded_for is None
    assert entry.actor_organisation == "org|cva" and entry.outcome == "ok"


def test_an_overlong_forwarded_header_is_cut_to_fit() -> None:
    entry = audit_entry(
        request(headers={"X-Forwarded-For": "1" * 5000}), AGENCY, "read", "Task", service="x"
    )
    assert entry.forwarded_for is not None and len(entry.forwarded_for) == 500


def test_about_names_what_was_touched_once_known_without_repeats() -> None:
    entry = audit_entry(request(), AGENCY, "create", "ServiceRequest", service="intake")
    named = entry.about(["r1", "r2", "r1"], "accepted")
    assert named.resource_ids == ("r1", "r2") and named.outcome == "accepted"
    assert named.event_id == entry.event_id and entry.resource_ids == ()


def test_the_message_round_trips_and_carries_the_entry_event_id() -> None:
    entry = audit_entry(
        request(headers={"X-Forwarded-For": "203.0.113.7"}),
        WORKER,
        "update",
        "Task",
        ["abc-123"],
        service="router",
    )
    event = audit_event(Topics("p."), entry)
    assert event.topic == "p.hub.audit" and event.key == "abc-123"
    assert dict(event.envelope.to_headers_str())[EVENT_ID] == entry.event_id
    assert AuditEntry.from_json(loads(event.value)) == entry


def test_the_message_is_not_mistaken_for_a_fhir_resource() -> None:
    entry = audit_entry(request(), WORKER, "read", "Task", ["abc-123"], service="router")
    message = loads(audit_event(Topics("p."), entry).value)
    assert "resourceType" not in message and message["resourceKind"] == "Task"


def test_a_message_staged_before_the_rename_is_still_read() -> None:
    entry = audit_entry(request(), WORKER, "read", "Task", ["abc-123"], service="router")
    message = loads(audit_event(Topics("p."), entry).value)
    message["resourceType"] = message.pop("resourceKind")
    assert AuditEntry.from_json(message) == entry


@pytest.mark.parametrize(
    "spoil",
    [
        lambda v: v.pop("actor"),
        lambda v: v.update(action="delete"),
        lambda v: v.update(resourceIds="abc"),
        lambda v: v.pop("resourceKind"),
        lambda v: v["actor"].update(role="superuser"),
        lambda v: v.update(at="yesterday"),
        lambda v: v["request"].update(peer=7),
    ],
)
def test_a_message_that_is_no_entry_is_refused(spoil: Any) -> None:
    value = audit_entry(request(), AGENCY, "read", "Task", ["a"], service="x").to_json()
    spoil(value)
    with pytest.raises(ValueError):
        AuditEntry.from_json(value)


class _Unreachable:
    """A session factory whose database is gone."""

    def begin(self) -> Any:
        raise OperationalError("INSERT", {}, ConnectionRefusedError())


async def test_a_read_that_cannot_be_recorded_is_refused_with_503() -> None:
    unreachable: Any = _Unreachable()
    log = AuditLog("notifier", unreachable, outbox_table(MetaData()), Topics())
    with pytest.raises(AuditUnavailable) as refused:
        await log.read(request(), AGENCY, "Task", ["abc-123"])
    assert refused.value.status_code == 503


def test_a_submission_entry_names_the_referrals_it_created() -> None:
    from hub_intake.adapters.formats.base import UnreadableMessage
    from hub_intake.service_layer.outcomes import Outcome, submission_audit

    entry = audit_entry(request(), AGENCY, "create", "ServiceRequest", service="intake")
    made = [
        Outcome("accepted", "r1", "ref-1", None, {}),
        Outcome("duplicate", "r0", "ref-0", None, {}),
        Outcome("rejected", None, "ref-2", None, {}),
    ]
    assert submission_audit(entry, made).resource_ids == ("r1", "r0")
    assert submission_audit(entry, made).outcome == "accepted"
    assert submission_audit(entry, made[2:]).outcome == "rejected"
    assert submission_audit(entry, made[2:]).resource_ids == ()
    assert submission_audit(entry, UnreadableMessage("x")).outcome == "unreadable"
