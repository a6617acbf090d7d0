"""Community organisations hear of their onward referrals from the notifier (a real process,
on real PostgreSQL and Kafka): one with a FHIR Subscription gets signed rest-hook
notifications like an agency; one without gets an e-mail with a link to the web app for a new
referral, a reminder and a lapse, and nothing for its own answers. A poison event does not
hold the partition, and a redelivered event (the same event id) is notified once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub_common.fhir.systems import PLAIN_JSON
from hub_common.jsonio import dumps, loads
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.onward import ONWARD_CHANGED, ONWARD_NUDGED, ONWARD_SENT
from hub_common.security.auth import Principal, issue_token
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure, free_port
from tests.support.kafka_io import publish
from tests.support.notifier_setup import notifier_process, own_stack
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import IsolatedStack
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.infra

TASK_TOPIC = "https://referral-hub.org/fhir/SubscriptionTopic/referral-task"
DUE_AT = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
WEB_URL = "https://web.hub.example.org"


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def hub(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    stack, drop = await own_stack(infra)
    smtp_port = free_port()
    sink = SmtpSink().start(smtp_port)
    receiver = WebhookReceiver().start()
    process = notifier_process(
        stack,
        tmp_path_factory.mktemp("onward-notices"),
        {"NOTIFIER_SMTP_PORT": str(smtp_port), "HUB_WEB_URL": WEB_URL},
    )
    process.start()
    engine = create_async_engine(stack.database_url, pool_size=2)
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=10.0) as client:
            yield {
                "process": process,
                "stack": stack,
                "client": client,
                "smtp": sink,
                "receiver": receiver,
                "engine": engine,
            }
    finally:
        process.stop()
        sink.stop()
        receiver.stop()
        await engine.dispose()
        await drop()


def organisation(stack: IsolatedStack, org_id: str) -> dict[str, str]:
    principal = Principal("organisation", subject=f"{org_id}-system", organisation=org_id)
    return bearer(issue_token(stack.auth_secret, principal))


def event(
    kind: str, onward_id: str, org_id: str, status: str, step: str, version: int
) -> dict[str, Any]:
    return {
        "kind": kind,
        "onwardId": onward_id,
        "referralId": "ref-onward",
        "version": version,
        "status": status,
        "businessStatus": step,
        "service": {
            "serviceId": f"svc-{org_id}",
            "serviceName": "Norbury benefits advice",
            "organisationId": org_id,
            "organisationName": "Norbury Advice Centre",
            "organisationEmail": f"{org_id}@example.org",
        },
        "dueAt": DUE_AT.isoformat(),
        "occurredAt": datetime.now(UTC).isoformat(),
    }


async def send(hub: dict[str, Any], value: dict[str, Any] | bytes, envelope: Envelope) -> None:
    stack: IsolatedStack = hub["stack"]
    body = value if isinstance(value, bytes) else dumps(value)
    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.onward,
        body,
        "ref-onward",
        envelope.to_headers(),
    )


async def deliveries(hub: dict[str, Any], onward_id: str) -> list[Any]:
    async with hub["engine"].connect() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "select kind, channel, target from notifier.deliveries"
                        " where referral_id = :r order by seq"
                    ),
                    {"r": onward_id},
                )
            ).all()
        )


async def test_an_organisation_without_a_system_is_emailed_what_needs_it_once(
    hub: dict[str, Any],
) -> None:
    org, onward_id = f"org-{uuid.uuid4().hex[:6]}", f"onward-{uuid.uuid4()}"
    sent = Envelope.new(ONWARD_SENT, PLAIN_JSON)
    await send(hub, b"{not json", Envelope.new(ONWARD_SENT, PLAIN_JSON))  # poison, ahead of it
    await send(hub, {"kind": "sent"}, Envelope.new(ONWARD_SENT, PLAIN_JSON))  # fields missing
    for _ in range(2):  # the same event twice: a redelivery
        await send(hub, event("sent", onward_id, org, "requested", "awaiting-response", 1), sent)
    await send(
        hub,
        event("accepted", onward_id, org, "accepted", "accepted-by-service", 2),
        Envelope.new(ONWARD_CHANGED, PLAIN_JSON),
    )
    other = f"onward-{uuid.uuid4()}"
    await send(
        hub,
        event("nudged", other, org, "requested", "awaiting-response", 1),
        Envelope.new(ONWARD_NUDGED, PLAIN_JSON),
    )

    async def emailed() -> bool:
        return len(await deliveries(hub, other)) == 1

    await eventually(emailed, "the reminder behind the poison events")
    await asyncio.sleep(1.0)  # time for any duplicate to land
    assert [tuple(row) for row in await deliveries(hub, onward_id)] == [
        ("email", "email", f"{org}@example.org")
    ]

    async def received() -> bool:
        return sum(org in str(rcpts) for rcpts, _ in hub["smtp"].messages) >= 2

    await eventually(received, "both e-mails sent")
    mails = [message for rcpts, message in hub["smtp"].messages if f"{org}@example.org" in rcpts]
    subjects = sorted(" ".join(str(message["Subject"]).split()) for message in mails)
    assert subjects == [
        f"New referral {onward_id} from the social prescribing hub",
        f"Reminder: referral {other} is waiting for your answer",
    ]
    body = next(m for m in mails if "New referral" in str(m["Subject"])).get_payload(decode=True)
    assert f"{WEB_URL}/organisation/referrals/{onward_id}".encode() in body
    assert b"Monday 07 December 2026" in body


async def test_an_organisation_with_a_subscription_is_notified_like_an_agency(
    hub: dict[str, Any],
) -> None:
    stack: IsolatedStack = hub["stack"]
    org, onward_id = f"org-{uuid.uuid4().hex[:6]}", f"onward-{uuid.uuid4()}"
    receiver: WebhookReceiver = hub["receiver"]
    body = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "our onward referrals",
        "criteria": TASK_TOPIC,
        "channel": {
            "type": "rest-hook",
            "endpoint": receiver.url(f"/{org}"),
            "payload": "application/fhir+json",
        },
    }
    kafka_channel = {**body, "channel": {"type": "message", "payload": "application/fhir+json"}}
    refused = await hub["client"].post(
        "/fhir/Subscription", json=kafka_channel, headers=organisation(stack, org)
    )
    assert refused.status_code == 400, refused.text
    created = await hub["client"].post(
        "/fhir/Subscription", json=body, headers=organisation(stack, org)
    )
    assert created.status_code == 201, created.text
    subscription_id = created.json()["id"]
    other_org = organisation(stack, "org-someone-else")
    assert (
        await hub["client"].get(f"/fhir/Subscription/{subscription_id}", headers=other_org)
    ).status_code == 404

    await send(
        hub,
        event("sent", onward_id, org, "requested", "awaiting-response", 1),
        Envelope.new(ONWARD_SENT, PLAIN_JSON),
    )
    await send(
        hub,
        event("accepted", onward_id, org, "accepted", "accepted-by-service", 2),
        Envelope.new(ONWARD_CHANGED, PLAIN_JSON),
    )

    def notifications() -> list[dict[str, Any]]:
        return [
            loads(r.body)
            for r in receiver.accepted
            if r.path == f"/{org}" and b"event-notification" in r.body
        ]

    async def both() -> bool:
        async with hub["engine"].connect() as conn:
            delivered = await conn.scalar(
                text(
                    "select count(*) from notifier.deliveries"
                    " where referral_id = :r and status = 'delivered'"
                ),
                {"r": onward_id},
            )
        return delivered == 2

    await eventually(both, "two notifications of the onward Task delivered")
    received = notifications()
    assert received and all(f"Task/{onward_id}".encode() in dumps(n) for n in received)
    assert all(b"Norbury" not in dumps(n) for n in received)  # id-only
    assert [tuple(row)[:2] for row in await deliveries(hub, onward_id)] == [
        ("event-notification", "rest-hook"),
        ("event-notification", "rest-hook"),
    ]  # and no e-mail: the organisation has a system


async def test_a_notifier_killed_mid_stream_notifies_each_event_once(hub: dict[str, Any]) -> None:
    """Chaos: the notifier is SIGKILLed while it works through a burst of onward events (some
    of them published twice with one event id), then restarted: Kafka redelivers what it had
    not committed, and every event is notified exactly once."""
    stack: IsolatedStack = hub["stack"]
    org = f"org-{uuid.uuid4().hex[:6]}"
    ids = [f"onward-{uuid.uuid4()}" for _ in range(300)]
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        for number, onward_id in enumerate(ids):
            envelope = Envelope.new(ONWARD_SENT, PLAIN_JSON)
            value = dumps(event("sent", onward_id, org, "requested", "awaiting-response", 1))
            for _ in range(2 if number % 10 == 0 else 1):
                await producer.send(
                    stack.topics.onward, value, key=b"ref-onward", headers=envelope.to_headers()
                )
        await producer.flush()
    finally:
        await producer.stop()

    async def staged() -> int:
        async with hub["engine"].connect() as conn:
            found = await conn.scalar(
                text("select count(*) from notifier.deliveries where target = :t"),
                {"t": f"{org}@example.org"},
            )
        return int(found or 0)

    async def some() -> bool:
        return await staged() >= 20

    await eventually(some, "the notifier to start on the burst")
    process = hub["process"]
    process.kill()
    assert await staged() < len(ids), "the burst was done before the kill: nothing was tested"
    process.start()

    async def all_staged() -> bool:
        return await staged() >= len(ids)

    await eventually(all_staged, "every onward event notified after the restart", timeout=90)
    await asyncio.sleep(1.5)  # time for any duplicate to land
    async with hub["engine"].connect() as conn:
        per_event = (
            await conn.execute(
                text(
                    "select referral_id, count(*) from notifier.deliveries"
                    " where target = :t group by referral_id"
                ),
                {"t": f"{org}@example.org"},
            )
        ).all()
    assert sorted(row[0] for row in per_event) == sorted(ids)
    assert {row[1] for row in per_event} == {1}
