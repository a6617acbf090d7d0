"""How each router event is published (contract: docs/contract.md, topics): the one place
that turns what a use case recorded (`domain/events.py`, or an audit entry) into its outgoing
event: topic, key, value and envelope."""

from __future__ import annotations

from hub_common.fhir.systems import FHIR_JSON, PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent
from hub_common.messaging.topics import Topics
from hub_common.privacy.data_protection import applied_event
from hub_common.security.audit import AuditEntry, audit_event
from hub_router.adapters.onward_store import onward_event
from hub_router.domain.events import (
    DataProtectionApplied,
    OnwardReferralChanged,
    OnwardReferralExpired,
    ReferralSetWaiting,
    RouterEvent,
    ServiceLevelBreached,
    ServiceLevelResolved,
    TaskRecorded,
)

Recorded = RouterEvent | AuditEntry
"""What a use case may record in its unit of work."""

ALERT_TYPES: dict[type, str] = {
    ReferralSetWaiting: "ReferralAwaitingAllocation",
    OnwardReferralExpired: "OnwardReferralExpired",
    ServiceLevelBreached: "SlaBreached",
    ServiceLevelResolved: "SlaBreachResolved",
}


def to_outgoing(topics: Topics, event: Recorded) -> OutgoingEvent:
    """The event as the outbox keeps it; every event of a referral is keyed by its id."""
    if isinstance(event, AuditEntry):
        return audit_event(topics, event)
    if isinstance(event, TaskRecorded):
        envelope = Envelope.new("TaskChanged", FHIR_JSON, event.traceparent)
        return OutgoingEvent(topics.tasks, event.referral_id, dumps(event.snapshot), envelope)
    if isinstance(event, OnwardReferralChanged):
        return onward_event(topics, event.onward, event.kind, event.occurred_at, event.traceparent)
    if isinstance(event, DataProtectionApplied):
        return applied_event(topics, event.request, "router", event.counts)
    traceparent = (
        event.traceparent if isinstance(event, ReferralSetWaiting | ServiceLevelResolved) else None
    )
    envelope = Envelope.new(ALERT_TYPES[type(event)], PLAIN_JSON, traceparent)
    return OutgoingEvent(topics.alerts, event.referral_id, dumps(event.alert), envelope)
