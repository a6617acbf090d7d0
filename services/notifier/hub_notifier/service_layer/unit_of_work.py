"""The notifier's unit of work: one transaction, its repositories, and the events it stages.

A use case reads and writes through the repositories (referrals, their Task timeline, person
linking, restrictions, the subscriptions and deliveries a change is announced to, the events
each consumer applied, and the read side, alerts, audit and data protection records) and
records what it publishes as typed events (`domain/events.py`, or an audit entry) with `stage`; when the transaction's body ends, the unit of work writes them to the outbox, last,
after every row they report on (add_to_outbox), and the whole commits together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.systems import FHIR_JSON
from hub_common.messaging.batch import BatchUnitOfWork
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics
from hub_common.security.audit import AuditEntry, audit_event
from hub_notifier.adapters import orm
from hub_notifier.adapters.alert_store import Alerts
from hub_notifier.adapters.audit_store import AuditEntries
from hub_notifier.adapters.data_protection_store import DataProtectionRecords, Restrictions
from hub_notifier.adapters.deliveries import Deliveries
from hub_notifier.adapters.notifications import Notifications
from hub_notifier.adapters.people_store import People
from hub_notifier.adapters.person_links import PersonLinks
from hub_notifier.adapters.processed_events import ProcessedEvents
from hub_notifier.adapters.read_store import ReadStore
from hub_notifier.adapters.referrals import Referrals
from hub_notifier.adapters.subject_access_store import Subjects
from hub_notifier.adapters.subscription_store import Subscriptions
from hub_notifier.adapters.timeline import Timeline
from hub_notifier.domain.events import NotifierEvent, StatusNotified

Staged = NotifierEvent | AuditEntry | OutgoingEvent
"""What a use case may stage: its own events, audit entries, the shared package's messages."""

Sessions = async_sessionmaker[AsyncSession]
"""Where the units of work get their sessions: the use cases name it, and need no SQLAlchemy."""


class NotifierUnitOfWork(BatchUnitOfWork):
    """One transaction on PostgreSQL: `async with unit.transaction(): ...` commits its body,
    then its staged events, or nothing."""

    processed: ProcessedEvents
    referrals: Referrals
    timeline: Timeline
    linking: PersonLinks
    restrictions: Restrictions
    notifications: Notifications
    subscriptions: Subscriptions
    deliveries: Deliveries
    reads: ReadStore
    people: People
    alerts: Alerts
    data_protection: DataProtectionRecords
    audit: AuditEntries
    subjects: Subjects

    def __init__(self, sessions: Sessions, topics: Topics | None = None) -> None:
        """`topics`: the namespace of the topics its events go to (none in production)."""
        super().__init__(sessions)
        self._topics = topics or Topics()
        self._events: list[Staged] = []

    async def start(self) -> None:
        session = self.session
        self.processed = ProcessedEvents(session)
        self.referrals = Referrals(session)
        self.timeline = Timeline(session)
        self.linking = PersonLinks(session)
        self.restrictions = Restrictions(session)
        self.notifications = Notifications(session)
        self.subscriptions = Subscriptions(session)
        self.deliveries = Deliveries(session)
        self.reads = ReadStore(session)
        self.people = People(session)
        self.alerts = Alerts(session)
        self.data_protection = DataProtectionRecords(session)
        self.audit = AuditEntries(session)
        self.subjects = Subjects(session)

    def stage(self, *events: Staged) -> None:
        """Events to publish if the transaction commits, in this order."""
        self._events.extend(events)

    def outgoing(self) -> list[OutgoingEvent]:
        """The staged events as outbox rows, and forget them (they are being written)."""
        events, self._events = self._events, []
        return [to_outgoing(self._topics, event) for event in events]

    async def flush(self) -> None:
        await add_to_outbox(self.session, orm.outbox, self.outgoing())


def to_outgoing(topics: Topics, event: Staged) -> OutgoingEvent:
    """How each notifier event is published (contract: docs/contract.md, topics); an audit
    entry goes to `hub.audit` as every service's does (hub_common.security.audit), and the
    shared package's own messages (data protection) come ready made."""
    if isinstance(event, OutgoingEvent):
        return event
    if isinstance(event, AuditEntry):
        return audit_event(topics, event)
    assert isinstance(event, StatusNotified)
    return OutgoingEvent(
        topic=topics.agency_status(event.source, event.requester_org),
        key=event.referral_id,
        value=event.bundle,
        envelope=Envelope.new("ReferralStatusNotified", FHIR_JSON, event.traceparent),
    )
