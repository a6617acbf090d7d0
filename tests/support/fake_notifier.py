"""The notifier's unit of work kept in memory, for use-case tests without PostgreSQL.

It keeps the real one's promises the use cases rely on: a transaction commits whole or not at
all, an event id is applied once per consumer, a Task version is recorded once and the current
Task only moves forward, a live subscription's events are numbered without gaps, and a staged
event reaches the outbox only with the commit. Person linking is reduced to the NHS number.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hub_common.fhir.task_status import CLOSED
from hub_common.messaging.outbox import OutgoingEvent
from hub_common.messaging.topics import Topics
from hub_notifier.adapters.delivery_store import DEAD, PARKED_UNTIL, PENDING
from hub_notifier.adapters.notifications import DELIVERY_ROW, LiveSubscription
from hub_notifier.adapters.requester import referrer_email
from hub_notifier.adapters.task_facts import TaskFacts, task_facts
from hub_notifier.domain.message_back import CONTACT_STEPS
from hub_notifier.domain.person_match import Demographics
from hub_notifier.domain.subscription import LIVE, SubscriptionStatus
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork
from tests.support.memory_uow import MemoryTransaction

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class NotifierTables:
    """What the notifier's database holds, as far as tracking and announcing read and write."""

    processed: set[tuple[str, str]] = field(default_factory=set)  # (consumer, event id)
    service_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejections: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # the current row
    people: dict[str, str] = field(default_factory=dict)  # referral id -> person id
    restricted: set[str] = field(default_factory=set)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[OutgoingEvent] = field(default_factory=list)
    commits: int = 0

    def subscribe(self, requester_org: str, channel: str = "rest-hook") -> str:
        """A live subscription of `requester_org`, as the subscriptions API makes one."""
        subscription_id = str(uuid.uuid4())
        self.subscriptions[subscription_id] = {
            **SUBSCRIPTION_DEFAULTS,
            "subscription_id": subscription_id,
            "requester_org": requester_org,
            "channel": channel,
            "status": "active",
            "secret": "s",
            "filter_criteria": f"Task?requester={requester_org}",
            "reason": "tests",
        }
        return subscription_id


SUBSCRIPTION_DEFAULTS: dict[str, Any] = {
    "endpoint": None,
    "headers": [],
    "previous_secret": None,
    "previous_secret_until": None,
    "heartbeat_seconds": None,
    "last_notified_at": EPOCH,
    "events_since_start": 0,
}
"""The columns the database fills in when a subscription is created."""


class _Processed:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    async def first(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        fresh = {e for e in event_ids if (consumer, e) not in self._tables.processed}
        self._tables.processed |= {(consumer, e) for e in fresh}
        return fresh

    async def first_one(self, consumer: str, event_id: str) -> bool:
        return bool(await self.first(consumer, [event_id]))


class _Referrals:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    async def lock(self, referral_ids: Iterable[str]) -> None:
        """One transaction at a time here: nothing to wait for."""

    async def add(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        inserted = set()
        for row in rows:
            kept = self._tables.service_requests.get(row["referral_id"])
            if kept is None:
                inserted.add(row["referral_id"])
                self._tables.service_requests[row["referral_id"]] = dict(row)
            elif _version(kept["resource"]) < _version(row["resource"]):
                kept.update(resource=row["resource"], borough=row["borough"])
        return inserted

    async def contacts(
        self, referral_ids: Collection[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        return {
            rid: (referrer_email(row["resource"]), row["source"])
            for rid, row in self._tables.service_requests.items()
            if rid in referral_ids
        }

    async def source_of(self, referral_id: str | None) -> str:
        if referral_id in self._tables.rejections:
            return str(self._tables.rejections[referral_id]["source"])
        row = self._tables.service_requests.get(referral_id or "")
        return str(row["source"]) if row else "unknown"

    async def add_rejection(self, rejection_id: str, source: str, event: dict[str, Any]) -> bool:
        if rejection_id in self._tables.rejections:
            return False
        self._tables.rejections[rejection_id] = {"source": source, "event": event}
        return True


def _version(resource: dict[str, Any]) -> int:
    return int((resource.get("meta") or {}).get("versionId") or 1)


class _Timeline:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    async def keep(
        self, versions: Sequence[tuple[TaskFacts, dict[str, Any]]]
    ) -> set[tuple[str, int]]:
        new = set()
        for facts, task in versions:
            key = (facts.referral_id, facts.version)
            if key in self._tables.history:
                continue
            new.add(key)
            self._tables.history[key] = task
            current = self._tables.tasks.get(facts.referral_id)
            if current is None or current["version"] < facts.version:
                self._tables.tasks[facts.referral_id] = {
                    "version": facts.version,
                    "status": facts.status,
                    "business_status": facts.business_status,
                    "requester_org": facts.requester_org,
                    "task": task,
                }
        return new

    async def first_contact_versions(self, referral_ids: Collection[str]) -> dict[str, int]:
        firsts: dict[str, int] = {}
        for (rid, version), task in sorted(self._tables.history.items()):
            if rid in referral_ids and task_facts(task).business_status in CONTACT_STEPS:
                firsts.setdefault(rid, version)
        return firsts

    async def versions_of(self, referral_ids: Collection[str]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (rid, task)
            for (rid, _), task in sorted(self._tables.history.items())
            if rid in referral_ids
        ]


class _People:
    """The same NHS number is the same person; anyone else is their own person."""

    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    async def link(self, referrals: Sequence[tuple[str, Demographics]]) -> int:
        for referral_id, person in referrals:
            self._tables.people[referral_id] = person.nhs_number or referral_id
        return 0

    async def heard_of_acceptance(
        self, referrals: dict[str, str], contact_steps: frozenset[str]
    ) -> set[str]:
        people = self._tables.people
        heard = set()
        for referral_id, organisation in referrals.items():
            for other, person in people.items():
                task = self._tables.tasks.get(other)
                if (
                    other != referral_id
                    and person == people.get(referral_id)
                    and task is not None
                    and task["requester_org"] == organisation
                    and task["status"] not in CLOSED
                    and any(
                        rid == other and task_facts(t).business_status in contact_steps
                        for (rid, _), t in self._tables.history.items()
                    )
                ):
                    heard.add(referral_id)
        return heard


class _Restrictions:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    async def among(self, referral_ids: Iterable[str]) -> set[str]:
        return set(referral_ids) & self._tables.restricted


class _Notifications:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    def _live(self, organisations: Collection[str]) -> list[LiveSubscription]:
        return [
            LiveSubscription(
                sid, row["requester_org"], row["channel"], row["status"], row["events_since_start"]
            )
            for sid, row in sorted(self._tables.subscriptions.items())
            if row["requester_org"] in organisations and row["status"] in LIVE
        ]

    async def lock_live(self, organisations: Collection[str]) -> list[LiveSubscription]:
        return self._live(organisations)

    async def subscribed(self, organisations: Collection[str]) -> set[str]:
        return {sub.requester_org for sub in self._live(organisations)}

    async def count_events(self, counters: dict[str, int], at: datetime) -> None:
        for sid, counter in counters.items():
            self._tables.subscriptions[sid].update(events_since_start=counter, last_notified_at=at)

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        self._tables.deliveries.extend(
            {**DELIVERY_ROW, "due_at": EPOCH, "attempts": 0, **row} for row in rows
        )


class _Subscriptions:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    async def add(self, **values: Any) -> None:
        self._tables.subscriptions[values["subscription_id"]] = {
            **SUBSCRIPTION_DEFAULTS,
            **values,
        }

    async def find(self, subscription_id: str, organisation: str) -> Any | None:
        row = self._tables.subscriptions.get(subscription_id)
        if row is None or row["requester_org"] != organisation:
            return None
        return SimpleNamespace(**row)

    lock = find

    async def organisation_of(self, subscription_id: str | None) -> str | None:
        row = self._tables.subscriptions.get(subscription_id or "")
        return str(row["requester_org"]) if row else None

    async def set_status(
        self, subscription_id: str, status: SubscriptionStatus, **more: Any
    ) -> Any:
        row = self._tables.subscriptions[subscription_id]
        row.update(status=status.value, **more)
        return SimpleNamespace(**row)

    async def rotate_secret(
        self, subscription_id: str, organisation: str, new_secret: str, grace_until: datetime
    ) -> Any | None:
        if await self.find(subscription_id, organisation) is None:
            return None
        row = self._tables.subscriptions[subscription_id]
        row.update(
            previous_secret=row["secret"], previous_secret_until=grace_until, secret=new_secret
        )
        return SimpleNamespace(**row)

    async def set_heartbeat(
        self, subscription_id: str, organisation: str, heartbeat_seconds: int | None
    ) -> None:
        if await self.find(subscription_id, organisation) is not None:
            self._tables.subscriptions[subscription_id]["heartbeat_seconds"] = heartbeat_seconds

    def _pending(self, subscription_id: str) -> list[dict[str, Any]]:
        return [
            row
            for row in self._tables.deliveries
            if row["subscription_id"] == subscription_id and row["status"] == PENDING
        ]

    async def park_pending(self, subscription_id: str) -> None:
        for row in self._pending(subscription_id):
            row["due_at"] = PARKED_UNTIL

    async def unpark(self, subscription_id: str, now: datetime) -> None:
        for row in self._pending(subscription_id):
            if row["due_at"] == PARKED_UNTIL:
                row["due_at"] = now

    async def claim_quiet(self, now: datetime, limit: int) -> list[Any]:
        quiet = [
            row
            for row in self._tables.subscriptions.values()
            if row["status"] == "active"
            and row["channel"] == "rest-hook"
            and row["heartbeat_seconds"] is not None
            and row["last_notified_at"] <= now - timedelta(seconds=row["heartbeat_seconds"])
        ]
        quiet.sort(key=lambda row: row["last_notified_at"])
        return [SimpleNamespace(**row) for row in quiet[:limit]]

    async def notified(self, subscription_ids: Sequence[str], at: datetime) -> None:
        for sid in subscription_ids:
            self._tables.subscriptions[sid]["last_notified_at"] = at

    async def troubled(self, subscription_id: str, limit: int = 100) -> list[Any]:
        return [
            SimpleNamespace(**row)
            for row in self._tables.deliveries
            if row["subscription_id"] == subscription_id
            and (
                row["status"] == DEAD
                or (row["status"] == PENDING and row["last_error"] is not None)
            )
        ][:limit]


class _Deliveries:
    def __init__(self, tables: NotifierTables) -> None:
        self._tables = tables

    def _one(self, delivery_id: str) -> dict[str, Any] | None:
        return next((r for r in self._tables.deliveries if r["delivery_id"] == delivery_id), None)

    async def dead(self, subscription_id: str | None = None, limit: int = 100) -> list[Any]:
        return [
            SimpleNamespace(**row)
            for row in self._tables.deliveries
            if row["status"] == DEAD
            and (not subscription_id or row["subscription_id"] == subscription_id)
        ][:limit]

    async def dead_one(self, delivery_id: str) -> Any | None:
        row = self._one(delivery_id)
        return SimpleNamespace(**row) if row and row["status"] == DEAD else None

    async def requeue(self, delivery_id: str, now: datetime) -> None:
        row = self._one(delivery_id)
        assert row is not None
        row.update(status=PENDING, due_at=now, attempts=0, first_attempt_at=None)

    async def delivered(self, delivery_id: str, at: datetime) -> None:
        row = self._one(delivery_id)
        assert row is not None
        row.update(status="delivered", delivered_at=at)

    async def status_of(self, delivery_id: str) -> str:
        row = self._one(delivery_id)
        return str(row["status"]) if row else "None"


class FakeNotifierUnitOfWork(MemoryTransaction, NotifierUnitOfWork):
    """Works on a copy of `store`'s tables, copied back when the transaction commits."""

    def __init__(self, store: NotifierTables, topics: Topics) -> None:
        super().__init__(None, topics)  # type: ignore[arg-type]
        self._store = store

    async def start(self) -> None:
        self.processed = _Processed(self.tables)  # type: ignore[assignment]
        self.referrals = _Referrals(self.tables)  # type: ignore[assignment]
        self.timeline = _Timeline(self.tables)  # type: ignore[assignment]
        self.linking = _People(self.tables)  # type: ignore[assignment]
        self.restrictions = _Restrictions(self.tables)  # type: ignore[assignment]
        self.notifications = _Notifications(self.tables)  # type: ignore[assignment]
        self.subscriptions = _Subscriptions(self.tables)  # type: ignore[assignment]
        self.deliveries = _Deliveries(self.tables)  # type: ignore[assignment]

    async def flush(self) -> None:
        self.tables.outbox.extend(self.outgoing())
