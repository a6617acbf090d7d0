"""Notification bundles of the FHIR R4 Subscriptions Backport (`id-only` content).

A notification is a `history` Bundle whose first entry is a Parameters resource in the shape of
the Backport's `subscription-status-r4` profile. `id-only` means it names the changed Task and
carries nothing of it: the referrer reads the Task with its own credentials. That is why no
notification can leak a name or an NHS number: there is no place for one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
STATUS_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"
TASK_TOPIC = "https://referral-hub.org/fhir/SubscriptionTopic/referral-task"
"""The one topic the hub offers: every change of a Task the subscriber's organisation asked for."""


class NotificationType(StrEnum):
    HANDSHAKE = "handshake"
    HEARTBEAT = "heartbeat"
    EVENT_NOTIFICATION = "event-notification"
    QUERY_STATUS = "query-status"


@dataclass(frozen=True)
class Event:
    """One numbered event of a subscription: which resource changed, and when."""

    number: int
    timestamp: datetime
    focus: str  # a relative reference, e.g. `Task/<referral id>`


@dataclass(frozen=True)
class StatusReport:
    """What a status Parameters says about a subscription at one moment."""

    subscription_url: str
    status: str
    type: NotificationType
    events_since_start: int
    events: tuple[Event, ...] = ()
    errors: tuple[str, ...] = ()  # short, content-free descriptions (e.g. `HTTP 503`)
    extra: tuple[dict[str, Any], ...] = field(default=())  # further Parameters.parameter


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def status_parameters(report: StatusReport) -> dict[str, Any]:
    """The Parameters resource (backport-subscription-status-r4)."""
    # The Backport carries int64 counters as strings in R4 (R4 has no integer64).
    parameters: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": report.subscription_url}},
        {"name": "topic", "valueCanonical": TASK_TOPIC},
        {"name": "status", "valueCode": report.status},
        {"name": "type", "valueCode": report.type.value},
        {"name": "events-since-subscription-start", "valueString": str(report.events_since_start)},
    ]
    for event in report.events:
        parameters.append(
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(event.number)},
                    {"name": "timestamp", "valueInstant": _instant(event.timestamp)},
                    {"name": "focus", "valueReference": {"reference": event.focus}},
                ],
            }
        )
    for error in report.errors:
        parameters.append({"name": "error", "valueCodeableConcept": {"text": error}})
    parameters.extend(report.extra)
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": parameters,
    }


def notification_bundle(
    report: StatusReport, *, bundle_id: str, base_url: str, timestamp: datetime
) -> dict[str, Any]:
    """The `history` Bundle sent to the endpoint: the status first, then each focus by id only."""
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{bundle_id}",
            "resource": status_parameters(report),
            "request": {"method": "GET", "url": f"{report.subscription_url}/$status"},
            "response": {"status": "200"},
        }
    ]
    for event in report.events:
        # id-only: the entry has a fullUrl and no resource.
        entries.append(
            {
                "fullUrl": f"{base_url.rstrip('/')}/fhir/{event.focus}",
                "request": {"method": "PUT", "url": event.focus},
                "response": {"status": "200"},
            }
        )
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "history",
        "timestamp": _instant(timestamp),
        "entry": entries,
    }


def status_bundle(
    report: StatusReport, *, timestamp: datetime, status_id: str | None = None
) -> dict[str, Any]:
    """The answer to `$status`: a searchset Bundle holding the status Parameters. A search
    result needs an id and every entry a fullUrl: the Parameters gets a fresh uuid for both."""
    status_id = status_id or str(uuid.uuid4())
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(timestamp),
        "total": 1,
        "link": [{"relation": "self", "url": f"{report.subscription_url}/$status"}],
        "entry": [
            {
                "fullUrl": f"urn:uuid:{status_id}",
                "resource": {"id": status_id, **status_parameters(report)},
                "search": {"mode": "match"},
            }
        ],
    }
