"""The notifier's use cases on its unit of work kept in memory (tests/support/fake_notifier.py):
what gets recorded, who hears of it and what is staged for publication, without PostgreSQL.
The same use cases on the real database: tests/integration/test_notifier_tracking.py,
test_notifier_deliveries.py, test_onward_notices.py and the e2e tests."""

from __future__ import annotations

import ast
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.messaging.topics import Topics
from hub_notifier import service_layer
from hub_notifier.adapters.delivery_store import PARKED_UNTIL
from hub_notifier.adapters.requester import requester_key
from hub_notifier.domain.commands import CreateSubscription
from hub_notifier.domain.subscription import Channel, RefusedSubscription
from hub_notifier.service_layer.dead_letters import DeadLetters, NoStatusTopic
from hub_notifier.service_layer.notifying import Announcer
from hub_notifier.service_layer.subscribing import SubscriptionService
from hub_notifier.service_layer.tracking import TrackingService
from tests.support.fake_notifier import FakeNotifierUnitOfWork, NotifierTables
from tests.support.notifier_setup import STEPS, organisation, service_request, task_versions

TOPICS = Topics("t.")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
CVA_KEY = requester_key(CVA)


@pytest.fixture
def tables() -> NotifierTables:
    return NotifierTables()


@pytest.fixture
def kicks() -> list[str]:
    return []


@pytest.fixture
def service(tables: NotifierTables, kicks: list[str]) -> TrackingService:
    announcer = Announcer(TOPICS, "https://hub.example.org", "hub@example.org", lambda: NOW)
    return TrackingService(
        None,  # type: ignore[arg-type]  # no database: the unit of work is in memory
        announcer,
        on_commit=lambda: kicks.append("kick"),
        units=lambda: FakeNotifierUnitOfWork(tables, TOPICS),
    )


@pytest.fixture
def subscribing(tables: NotifierTables, kicks: list[str]) -> SubscriptionService:
    return SubscriptionService(
        None,  # type: ignore[arg-type]
        "https://hub.example.org",
        lambda: NOW,
        on_commit=lambda: kicks.append("kick"),
        units=lambda: FakeNotifierUnitOfWork(tables, TOPICS),
    )


def subscription(
    channel: Channel = Channel.REST_HOOK, heartbeat: int | None = None
) -> CreateSubscription:
    return CreateSubscription(
        organisation=CVA_KEY,
        channel=channel,
        endpoint="https://cva.example.org/hook" if channel is Channel.REST_HOOK else None,
        headers=(),
        filter_criteria=None,
        reason="status of our referrals",
        heartbeat_seconds=heartbeat,
    )


def new_id() -> str:
    return str(uuid.uuid4())


def versions(referral_id: str, steps: str = "completed", count: int = 2) -> list[dict[str, Any]]:
    return task_versions(referral_id, CVA, STEPS[steps][:count])


def events(tasks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str | None]]:
    return [(task, new_id(), None) for task in tasks]


async def test_a_task_change_is_kept_and_e_mailed_to_a_referrer_without_subscription(
    service: TrackingService, tables: NotifierTables, kicks: list[str]
) -> None:
    referral_id = new_id()
    await service.record_request(
        service_request(referral_id, CVA, referrer_email="gp@example.org"), new_id()
    )
    first, second = versions(referral_id)
    await service.record_tasks(events([first, second]))
    assert sorted(tables.history) == [(referral_id, 1), (referral_id, 2)]
    assert tables.tasks[referral_id]["business_status"] == "allocated"
    emails = [row for row in tables.deliveries if row["kind"] == "email"]
    assert [(row["target"], row["referral_id"]) for row in emails] == [
        ("gp@example.org", referral_id)
    ] * 2
    assert tables.outbox == []  # e-mails go out through the delivery worker, not Kafka
    assert kicks == ["kick"]


async def test_a_version_redelivered_or_republished_is_announced_once(
    service: TrackingService, tables: NotifierTables
) -> None:
    referral_id = new_id()
    tables.subscribe(CVA_KEY)
    [first] = versions(referral_id, count=1)
    event_id = new_id()
    await service.record_tasks([(first, event_id, None), (first, new_id(), None)])
    await service.record_tasks([(first, event_id, None)])  # redelivered
    await service.record_tasks([(first, new_id(), None)])  # republished
    assert len(tables.deliveries) == 1
    assert tables.commits == 3  # the redelivery committed nothing new, but committed


async def test_a_change_fans_out_to_every_live_subscription_numbered_without_gaps(
    service: TrackingService, tables: NotifierTables
) -> None:
    referral_id = new_id()
    hook = tables.subscribe(CVA_KEY, "rest-hook")
    kafka = tables.subscribe(CVA_KEY, "message")
    off = tables.subscribe(CVA_KEY, "rest-hook")
    tables.subscriptions[off]["status"] = "off"
    await service.record_tasks(events(versions(referral_id, count=3)))
    numbered = {
        sid: [row["event_number"] for row in tables.deliveries if row["subscription_id"] == sid]
        for sid in (hook, kafka, off)
    }
    assert numbered == {hook: [1, 2, 3], kafka: [1, 2, 3], off: []}
    assert tables.subscriptions[hook]["events_since_start"] == 3
    assert tables.subscriptions[hook]["last_notified_at"] == NOW
    statuses = {row["channel"]: row["status"] for row in tables.deliveries}
    assert statuses == {"rest-hook": "pending", "message": "delivered"}
    # The message channel's delivery is its outbox event, on the subscriber's own status topic.
    own = Topics("t.").agency_status("community", CVA_KEY)
    assert [(e.topic, e.key, e.envelope.event_type) for e in tables.outbox] == [
        (own, referral_id, "ReferralStatusNotified")
    ] * 3
    bundle = json.loads(tables.outbox[2].value)
    assert bundle["resourceType"] == "Bundle"
    status = {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}
    assert status["events-since-subscription-start"]["valueString"] == "3"


async def test_a_task_recorded_before_its_referral_is_e_mailed_when_the_referral_arrives(
    service: TrackingService, tables: NotifierTables
) -> None:
    referral_id = new_id()
    await service.record_tasks(events(versions(referral_id)))
    assert tables.deliveries == []  # no address yet
    await service.record_request(
        service_request(referral_id, CVA, referrer_email="gp@example.org"), new_id()
    )
    assert [row["target"] for row in tables.deliveries] == ["gp@example.org"] * 2


async def test_a_restricted_persons_changes_are_kept_but_announced_to_nobody(
    service: TrackingService, tables: NotifierTables
) -> None:
    referral_id = new_id()
    tables.subscribe(CVA_KEY)
    tables.restricted.add(referral_id)
    await service.record_tasks(events(versions(referral_id)))
    assert len(tables.history) == 2
    assert tables.deliveries == []


async def test_a_bad_snapshot_fails_the_batch_before_anything_is_recorded(
    service: TrackingService, tables: NotifierTables
) -> None:
    tables.subscribe(CVA_KEY)
    [good] = versions(new_id(), count=1)
    with pytest.raises(ValueError):
        await service.record_tasks(events([good, {"resourceType": "Task"}]))
    assert (tables.history, tables.deliveries, tables.processed, tables.commits) == (
        {},
        [],
        set(),
        0,
    )


async def test_a_rejection_is_a_rejected_task_e_mailed_once(
    service: TrackingService, tables: NotifierTables
) -> None:
    event = {
        "rejectionId": new_id(),
        "source": "community",
        "reason": "no consent recorded",
        "referrerContact": {"email": "referrer@example.org"},
    }
    await service.record_rejection(event, new_id())
    await service.record_rejection(event, new_id())  # the same rejection, published again
    assert list(tables.rejections) == [event["rejectionId"]]
    assert tables.tasks[event["rejectionId"]]["status"] == "rejected"
    assert [row["target"] for row in tables.deliveries] == ["referrer@example.org"]


async def test_a_rest_hook_subscription_waits_for_its_handshake(
    subscribing: SubscriptionService, tables: NotifierTables, kicks: list[str]
) -> None:
    created = await subscribing.create(subscription())
    assert (created.row.status, created.row.filter_criteria) == (
        "requested",
        f"Task?requester={CVA_KEY}",
    )
    [handshake] = tables.deliveries
    assert (handshake["kind"], handshake["subscription_id"], handshake["status"]) == (
        "handshake",
        created.row.subscription_id,
        "pending",
    )
    assert kicks == ["kick"]  # the delivery worker looks at once


async def test_a_kafka_subscription_is_active_at_once_without_handshake(
    subscribing: SubscriptionService, tables: NotifierTables
) -> None:
    created = await subscribing.create(subscription(Channel.MESSAGE))
    assert created.row.status == "active"
    assert tables.deliveries == []


async def test_a_subscription_to_another_organisation_is_refused_and_nothing_kept(
    subscribing: SubscriptionService, tables: NotifierTables
) -> None:
    command = replace(subscription(), filter_criteria="Task?requester=someone|else")
    with pytest.raises(RefusedSubscription):
        await subscribing.create(command)
    assert tables.subscriptions == {}


async def test_turned_off_a_subscription_hears_nothing_and_on_again_resumes_in_order(
    subscribing: SubscriptionService, service: TrackingService, tables: NotifierTables
) -> None:
    created = await subscribing.create(subscription())
    sid = created.row.subscription_id
    await subscribing.update(sid, subscription(), "off")
    assert tables.subscriptions[sid]["status"] == "off"
    assert [row["due_at"] for row in tables.deliveries] == [PARKED_UNTIL]  # the handshake
    await service.record_tasks(events(versions(new_id())))
    assert len(tables.deliveries) == 1  # no event numbered for an off subscription
    await subscribing.update(sid, subscription(), "active")
    assert tables.subscriptions[sid]["status"] == "active"
    assert [row["due_at"] for row in tables.deliveries] == [NOW]


async def test_a_quiet_rest_hook_gets_a_heartbeat_once_per_period(
    subscribing: SubscriptionService, tables: NotifierTables
) -> None:
    created = await subscribing.create(subscription(heartbeat=60))
    sid = created.row.subscription_id
    tables.subscriptions[sid].update(status="active", last_notified_at=NOW - timedelta(hours=1))
    assert await subscribing.send_heartbeats() == 1
    assert await subscribing.send_heartbeats() == 0  # its clock restarted
    kinds = [row["kind"] for row in tables.deliveries]
    assert kinds == ["handshake", "heartbeat"]


async def test_status_reports_the_deliveries_in_trouble(
    subscribing: SubscriptionService, tables: NotifierTables
) -> None:
    created = await subscribing.create(subscription())
    tables.deliveries[0].update(status="dead", attempts=5, last_error="HTTP 503")
    report = await subscribing.status_report(created.row.subscription_id, CVA_KEY)
    assert report is not None
    assert report.errors == (
        "handshake: dead-lettered after 5 attempts (last: HTTP 503); an operator can retry it",
    )
    assert await subscribing.status_report(created.row.subscription_id, "someone|else") is None


async def test_a_dead_letter_retried_goes_out_again_by_its_own_channel(
    service: TrackingService, tables: NotifierTables, kicks: list[str]
) -> None:
    letters = DeadLetters(
        None,  # type: ignore[arg-type]
        lambda: NOW,
        on_commit=lambda: kicks.append("kick"),
        topics=TOPICS,
        units=lambda: FakeNotifierUnitOfWork(tables, TOPICS),
    )
    referral_id = new_id()
    await service.record_request(service_request(referral_id, CVA), new_id())
    hook = tables.subscribe(CVA_KEY, "rest-hook")
    kafka = tables.subscribe(CVA_KEY, "message")
    await service.record_tasks(events(versions(referral_id, count=1)))
    tables.outbox.clear()
    for row in tables.deliveries:
        row.update(status="dead", attempts=5, last_error="HTTP 503")
    by_channel = {row["subscription_id"]: row["delivery_id"] for row in tables.deliveries}
    assert len(await letters.list()) == 2
    assert await letters.retry(by_channel[hook])
    assert await letters.status(by_channel[hook]) == "pending"  # the worker sends it again
    assert tables.outbox == []
    assert await letters.retry(by_channel[kafka])
    assert await letters.status(by_channel[kafka]) == "delivered"  # handed to the outbox
    [event] = tables.outbox
    # On the subscriber's own status topic, never a topic other agencies of its source read.
    assert (event.topic, event.key) == (TOPICS.agency_status("community", CVA_KEY), referral_id)
    assert not await letters.retry(by_channel[kafka])  # no longer dead
    # A Kafka delivery of a referral from no known source has no topic to go to.
    [dead] = [row for row in tables.deliveries if row["delivery_id"] == by_channel[kafka]]
    dead.update(status="dead", referral_id="unknown-referral")
    with pytest.raises(NoStatusTopic):
        await letters.retry(by_channel[kafka])
    assert await letters.status(by_channel[kafka]) == "dead"  # nothing committed


def test_no_notifier_use_case_imports_sqlalchemy() -> None:
    """SQL lives in the adapters: only the unit of work, which owns the session, may import
    SQLAlchemy in the notifier's service layer."""
    layer = Path(service_layer.__file__).parent
    found = []
    for path in sorted(layer.glob("*.py")):
        if path.name == "unit_of_work.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{path.name}: {name}" for name in names if name.startswith("sqlalchemy")]
    assert found == []
    assert len(list(layer.glob("*.py"))) > 10  # the glob did find the layer's modules
