"""The notifier's unit of work: one transaction, its repositories, and the events it stages.

A use case reads and writes through the repositories (referrals, their Task timeline, person
links, restrictions, the subscriptions and deliveries a change is announced to, the events each
consumer applied) and records what it publishes as typed events (`domain/events.py`) with
`stage`; when the transaction's body ends, the unit of work writes them to the outbox, last,
after every row they report on (add_to_outbox), and the whole commits together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.systems import FHIR_JSON
from hub_common.messaging.batch import BatchUnitOfWork
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics
from hub_notifier.adapters import orm
from hub_notifier.adapters.data_protection_store import Restrictions
from hub_notifier.adapters.notifications import Notifications
from hub_notifier.adapters.person_links import PersonLinks
from hub_notifier.adapters.processed_events import ProcessedEvents
from hub_notifier.adapters.referrals import Referrals
from hub_notifier.adapters.timeline import Timeline
from hub_notifier.domain.events import NotifierEvent


class NotifierUnitOfWork(BatchUnitOfWork):
    """One transaction on PostgreSQL: `async with unit.transaction(): ...` commits its body,
    then its staged events, or nothing."""

    processed: ProcessedEvents
    referrals: Referrals
    timeline: Timeline
    people: PersonLinks
    restrictions: Restrictions
    notifications: Notifications

    def __init__(self, sessions: async_sessionmaker[AsyncSession], topics: Topics) -> None:
        super().__init__(sessions)
        self._topics = topics
        self._events: list[NotifierEvent] = []

    async def start(self) -> None:
        session = self.session
        self.processed = ProcessedEvents(session)
        self.referrals = Referrals(session)
        self.timeline = Timeline(session)
        self.people = PersonLinks(session)
        self.restrictions = Restrictions(session)
        self.notifications = Notifications(session)

    def stage(self, *events: NotifierEvent) -> None:
        """Events to publish if the transaction commits, in this order."""
        self._events.extend(events)

    def outgoing(self) -> list[OutgoingEvent]:
        """The staged events as outbox rows, and forget them (they are being written)."""
        events, self._events = self._events, []
        return [to_outgoing(self._topics, event) for event in events]

    async def flush(self) -> None:
        await add_to_outbox(self.session, orm.outbox, self.outgoing())


def to_outgoing(topics: Topics, event: NotifierEvent) -> OutgoingEvent:
    """How each notifier event is published (contract: docs/contract.md, topics)."""
    return OutgoingEvent(
        topic=topics.agency_status(event.source, event.requester_org),
        key=event.referral_id,
        value=event.bundle,
        envelope=Envelope.new("ReferralStatusNotified", FHIR_JSON, event.traceparent),
    )
