"""Several pending events of one subscription in one notification, as the Backport allows.

A subscription receives its events one request at a time, in order; an endpoint with a backlog
(a busy agency, or one coming back after an outage) would be sent it one round trip per event.
Instead its next consecutive event notifications go in one `history` Bundle: one
`notification-event` per event in number order, one focus entry each, and
`events-since-subscription-start` of the latest. Each event keeps its own frozen single-event
bundle (its delivery row); the coalesced one is assembled from them at sending time, so the
same events always give the same bytes and the same key.

A retry may carry a different set (more events arrived, or fewer are still pending), and so a
different Idempotency-Key: receivers deduplicate by event number, which the Backport expects.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from hub_notifier.domain.message_back import event_number_part

EVENT = "notification-event"
MESSAGE_BACK = "message-back"
_PER_EVENT = frozenset({EVENT, MESSAGE_BACK, "error"})
_KEYS = uuid.UUID("6f1d7c52-93a4-4c1e-9d3b-2f0c8e5a7b10")
"""Namespace of coalesced notifications' keys (uuid5 of the deliveries they carry)."""


def coalesced_key(delivery_ids: Sequence[str]) -> str:
    """The Idempotency-Key of a notification carrying these deliveries: a lone delivery keeps
    its own id; a set gets a key of its own, the same whenever exactly this set is sent."""
    if len(delivery_ids) == 1:
        return delivery_ids[0]
    return str(uuid.uuid5(_KEYS, ",".join(delivery_ids)))


def coalesce_notifications(bundles: Sequence[dict[str, Any]], bundle_id: str) -> dict[str, Any]:
    """One notification Bundle with the events of `bundles` (single-event notifications of
    one subscription, in event-number order). The subscription's status, the event count and
    the timestamp are those of the latest; nothing else is added, so it stays `id-only`."""
    if not bundles:
        raise ValueError("nothing to coalesce")
    latest = bundles[-1]
    latest_status = latest["entry"][0]
    header = [
        parameter
        for parameter in latest_status["resource"]["parameter"]
        if parameter["name"] not in _PER_EVENT
    ]
    events: list[dict[str, Any]] = []
    message_backs: list[dict[str, Any]] = []
    focus_entries: list[dict[str, Any]] = []
    for bundle in bundles:
        parameters = bundle["entry"][0]["resource"]["parameter"]
        own = [p for p in parameters if p["name"] == EVENT]
        events.extend(own)
        for parameter in parameters:
            if parameter["name"] == MESSAGE_BACK:
                message_backs.append(_naming_its_event(parameter, own))
        focus_entries.extend(bundle["entry"][1:])
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "history",
        "timestamp": latest["timestamp"],
        "entry": [
            {
                **latest_status,
                "fullUrl": f"urn:uuid:{bundle_id}",
                "resource": {
                    **latest_status["resource"],
                    "parameter": [*header, *events, *message_backs],
                },
            },
            *focus_entries,
        ],
    }


def _naming_its_event(message_back: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """A message back says which event it belongs to (bundles frozen before it always did
    may not): beside other events' it could be read as theirs."""
    parts = message_back["part"]
    if any(part["name"] == "event-number" for part in parts) or len(events) != 1:
        return message_back
    number = next(p["valueString"] for p in events[0]["part"] if p["name"] == "event-number")
    return {**message_back, "part": [event_number_part(int(number)), *parts]}
