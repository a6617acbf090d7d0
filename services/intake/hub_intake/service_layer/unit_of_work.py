"""The intake's unit of work: one transaction, its repositories, and the events it stages.

A use case reads and writes through the repositories (`referrals`, `rejections`) and records
what happened as typed events (`domain/events.py`, or an audit entry's outgoing event) with
`stage`; the unit of work turns them into outbox rows and writes the batch's new referrals and then
its events to the outbox when the batch ends (or a message ends, with savepoints: see
`hub_common.messaging.batch`), so a change and its events commit together, events last (add_to_outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub_common.fhir.systems import FHIR_JSON, PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.batch import BatchUnitOfWork
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent
from hub_common.messaging.topics import Topics
from hub_intake.adapters.known_referrals import Referrals
from hub_intake.adapters.rejection_store import Rejections
from hub_intake.adapters.unit_of_work import Sessions
from hub_intake.domain.events import (
    IntakeEvent,
    ReferralChanged,
    ReferralRejected,
    ReferralRequested,
)
from hub_intake.domain.referral import Referral


class IntakeUnitOfWork(BatchUnitOfWork):
    """A batch's transaction on PostgreSQL; `wanted` are the referrals it looks up at start."""

    referrals: Referrals
    rejections: Rejections

    def __init__(
        self,
        sessions: Sessions,
        topics: Topics,
        wanted: Sequence[Referral] = (),
    ) -> None:
        super().__init__(sessions)
        self._topics = topics
        self._wanted = wanted
        self._events: list[IntakeEvent | OutgoingEvent] = []

    async def start(self) -> None:
        self.referrals = await Referrals.load(self.session, self._wanted)
        self.rejections = Rejections(self.session)

    def stage(self, *events: IntakeEvent | OutgoingEvent) -> None:
        """Events to publish if the batch commits, in this order."""
        self._events.extend(events)

    def outgoing(self) -> list[OutgoingEvent]:
        """The staged events as outbox rows, and forget them (they are being written)."""
        events, self._events = self._events, []
        return [to_outgoing(self._topics, event) for event in events]

    async def flush(self) -> None:
        # The outbox rows last, after every row they report on (see add_to_outbox), in the
        # same statement as the new referrals.
        await self.referrals.flush_with_outbox(self.outgoing())

    def remember(self) -> Any:
        return self.referrals.remember(), len(self._events)

    def forget(self, mark: Any) -> None:
        referrals, events = mark
        self.referrals.forget(referrals)
        del self._events[events:]


EVENT_TYPES = {"cancel": "ReferralCancelled", "amend": "ReferralAmended"}


def to_outgoing(topics: Topics, event: IntakeEvent | OutgoingEvent) -> OutgoingEvent:
    """How each intake event is published (contract: docs/contract.md, topics)."""
    if isinstance(event, OutgoingEvent):
        return event
    trace = event.traceparent
    if isinstance(event, ReferralRequested):
        envelope = Envelope.new("ReferralRequested", FHIR_JSON, trace)
        return OutgoingEvent(topics.requested, event.referral_id, event.service_request, envelope)
    if isinstance(event, ReferralChanged):
        envelope = Envelope.new(EVENT_TYPES[event.kind], FHIR_JSON, trace)
        value = dumps(event.service_request)
        return OutgoingEvent(topics.requested, event.referral_id, value, envelope)
    if isinstance(event, ReferralRejected):
        envelope = Envelope.new("ReferralRejected", PLAIN_JSON, trace)
        return OutgoingEvent(topics.rejected, event.key, dumps(event.event), envelope)
    envelope = Envelope.new("ReferralAcceptedWithWarnings", FHIR_JSON, trace)
    value = dumps(event.outcome)
    topic = topics.agency_status(event.source, event.agency)
    return OutgoingEvent(topic, event.referral_id, value, envelope)
