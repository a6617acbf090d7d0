"""Service level alerts across the hub, on real PostgreSQL and Kafka: the router's sweep raises
each breach once, the notifier (a real process) keeps it, a coordinator reads it over HTTP in
their borough only and gets one daily digest; a resolving alert closes it; a poison alert does
not hold the topic and a redelivered alert is kept once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub_common.fhir.systems import PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.envelope import Envelope
from hub_common.security.auth import Principal, issue_token
from hub_common.storage.db import make_session_factory
from hub_notifier.service_layer.alerting import AlertBook
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.domain.offers import OfferTimeout
from hub_router.domain.sla import SlaPolicy
from hub_router.domain.task_status import BusinessStatus as B
from hub_router.domain.task_status import TaskStatus as S
from hub_router.service_layer.commands import AcceptOffer, ChangeTaskStatus
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.sla import SlaSweep
from hub_router.service_layer.task_progress import TaskProgress
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure, free_port
from tests.support.kafka_io import publish
from tests.support.notifier_setup import notifier_process, own_stack
from tests.support.referrals import service_request
from tests.support.router_support import MovableClock, add_workers
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FIRST_CONTACT_DUE = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
DIGEST_TO = "croydon-coordinators@example.org"


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
    """A notifier process with a digest for Croydon due at once, an SMTP sink, and the router's
    use cases in this process on the same database (their clock is the test's)."""
    stack, drop = await own_stack(infra)
    smtp_port = free_port()
    sink = SmtpSink().start(smtp_port)
    process = notifier_process(
        stack,
        tmp_path_factory.mktemp("sla-alerts"),
        {
            "NOTIFIER_SMTP_PORT": str(smtp_port),
            "NOTIFIER_ALERT_DIGEST_TO": json.dumps({"Croydon": DIGEST_TO}),
            "NOTIFIER_ALERT_DIGEST_AT": "00:00",
            "NOTIFIER_ALERT_DIGEST_CHECK_SECONDS": "0.3",
        },
    )
    process.start()
    engine = create_async_engine(stack.database_url, pool_size=5)
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=10.0) as client:
            yield {"stack": stack, "client": client, "smtp": sink, "engine": engine}
    finally:
        process.stop()
        sink.stop()
        await engine.dispose()
        await drop()


def coordinator(stack: IsolatedStack, *boroughs: str) -> dict[str, str]:
    principal = Principal("coordinator", subject="test-coordinator", boroughs=boroughs)
    return bearer(issue_token(stack.auth_secret, principal))


async def open_alerts(hub: dict[str, Any], borough: str) -> list[dict[str, Any]]:
    answer = await hub["client"].get(
        "/coordination/alerts", headers=coordinator(hub["stack"], borough)
    )
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    return alerts


async def relay_alerts(engine: AsyncEngine, bootstrap: str, topic: str) -> int:
    """Publish the router's staged alerts as its outbox relay would (same key, value, headers),
    and only those: the Task snapshots beside them are another test's business."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                text(
                    "delete from router.outbox where topic = :topic"
                    " returning seq, key, value, headers"
                ),
                {"topic": topic},
            )
        ).all()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for row in sorted(rows, key=lambda r: r.seq):
            headers = [(k, v.encode()) for k, v in row.headers.items()]
            await producer.send_and_wait(topic, row.value, key=row.key.encode(), headers=headers)
    finally:
        await producer.stop()
    return len(rows)


async def test_a_breach_reaches_its_boroughs_coordinators_once_and_resolves(
    hub: dict[str, Any],
) -> None:
    stack: IsolatedStack = hub["stack"]
    engine: AsyncEngine = hub["engine"]
    clock = MovableClock(MONDAY)
    sessions = make_session_factory(engine)
    routing = RoutingService(
        sessions, stack.topics, clock=clock, max_failed_offers=3, offer_timeout=OfferTimeout()
    )
    progress = TaskProgress(sessions, stack.topics, clock=clock)
    sweep = SlaSweep(sessions, stack.topics, SlaPolicy(5, 12, 5), clock=clock)
    await add_workers(
        routing,
        LinkWorker(
            "croydon-lw",
            boroughs=frozenset({"Croydon"}),
            postcode_districts=frozenset({"CR7"}),
            working_days=frozenset(WEEKDAYS),
        ),
        LinkWorker(
            "sutton-lw",
            boroughs=frozenset({"Sutton"}),
            postcode_districts=frozenset({"SM1"}),
            working_days=frozenset(WEEKDAYS),
        ),
    )
    croydon, sutton = f"cr-{uuid.uuid4().hex[:8]}", f"su-{uuid.uuid4().hex[:8]}"
    for referral, postcode, worker in (
        (croydon, "CR7 8AB", "croydon-lw"),
        (sutton, "SM1 1AA", "sutton-lw"),
    ):
        assert await routing.route(service_request(referral, postcode=postcode), referral, None)
        await progress.accept(AcceptOffer(referral, worker))

    clock.now = FIRST_CONTACT_DUE
    await sweep.sweep()
    await sweep.sweep()  # run twice: each breach is staged once
    topic = stack.topics.alerts
    assert await relay_alerts(engine, stack.kafka_bootstrap_servers, topic) == 2

    async def both_recorded() -> bool:
        return bool(await open_alerts(hub, "Croydon")) and bool(await open_alerts(hub, "Sutton"))

    await eventually(both_recorded, "the notifier to record both breaches")
    [seen] = await open_alerts(hub, "Croydon")
    assert seen == {
        "referralId": croydon,
        "task": f"Task/{croydon}",
        "borough": "Croydon",
        "rule": "first-contact",
        "level": "breach",
        "dueAt": FIRST_CONTACT_DUE.isoformat(),
        "raisedAt": FIRST_CONTACT_DUE.isoformat(),
    }
    assert [a["referralId"] for a in await open_alerts(hub, "Sutton")] == [sutton]
    assert await open_alerts(hub, "Merton") == []

    # The digest: one e-mail to Croydon's coordinators, ids and counts, nobody's name.
    await eventually(lambda: _digests(hub, 1), "the Croydon digest")
    await asyncio.sleep(1.5)  # several more checks: still one digest today
    [message] = [m for r, m in hub["smtp"].messages if DIGEST_TO in r]
    body = message.get_payload(decode=True).decode()
    assert croydon in body and "first-contact breach: 1" in body and sutton not in body
    assert "Person-" not in body and "Test Street" not in body

    await progress.change_status(
        ChangeTaskStatus(croydon, "croydon-lw", S.IN_PROGRESS, B.FIRST_CONTACT_MADE)
    )
    assert await relay_alerts(engine, stack.kafka_bootstrap_servers, topic) == 1

    async def croydon_resolved() -> bool:
        return await open_alerts(hub, "Croydon") == []

    await eventually(croydon_resolved, "the resolution to close the Croydon alert")
    assert [a["referralId"] for a in await open_alerts(hub, "Sutton")] == [sutton]


async def _digests(hub: dict[str, Any], count: int) -> bool:
    return sum(DIGEST_TO in r for r, _ in hub["smtp"].messages) >= count


def breach(referral_id: str) -> dict[str, Any]:
    return {
        "alert": "sla-breach",
        "rule": "closure",
        "level": "breach",
        "referralId": referral_id,
        "task": f"Task/{referral_id}",
        "borough": "Merton",
        "dueAt": "2027-01-01T00:00:00+00:00",
        "raisedAt": "2027-01-01T00:05:00+00:00",
    }


async def test_a_poison_alert_is_set_aside_and_a_redelivered_one_kept_once(
    hub: dict[str, Any],
) -> None:
    stack: IsolatedStack = hub["stack"]
    bootstrap, topic = stack.kafka_bootstrap_servers, stack.topics.alerts
    referral = f"me-{uuid.uuid4().hex[:8]}"
    envelope = Envelope.new("SlaBreached", PLAIN_JSON)
    # Same key as the good alert behind them, so they sit ahead of it on its partition.
    await publish(
        bootstrap, topic, b"{not json", referral, Envelope.new("X", PLAIN_JSON).to_headers()
    )
    missing = {k: v for k, v in breach(referral).items() if k != "dueAt"}
    await publish(
        bootstrap, topic, dumps(missing), referral, Envelope.new("X", PLAIN_JSON).to_headers()
    )
    for _ in range(2):  # the same event twice: a redelivery
        await publish(bootstrap, topic, dumps(breach(referral)), referral, envelope.to_headers())
    # The same alert under a new event id, as a second raise would be: still one alert.
    again = Envelope.new("SlaBreached", PLAIN_JSON)
    await publish(bootstrap, topic, dumps(breach(referral)), referral, again.to_headers())
    # And an alert of another kind, which the notifier does not keep.
    other = {"alert": "referral-awaiting-allocation", "referralId": referral, "borough": "Merton"}
    await publish(
        bootstrap, topic, dumps(other), referral, Envelope.new("X", PLAIN_JSON).to_headers()
    )
    marker = f"me-{uuid.uuid4().hex[:8]}"  # published last: once seen, the rest was consumed
    await publish(
        bootstrap, topic, dumps(breach(marker)), marker, Envelope.new("X", PLAIN_JSON).to_headers()
    )

    async def consumed() -> bool:
        ids = [a["referralId"] for a in await open_alerts(hub, "Merton")]
        return referral in ids and marker in ids

    await eventually(consumed, "the good alerts behind the poison ones")
    await asyncio.sleep(1.0)  # time for any duplicate to land
    async with hub["engine"].connect() as conn:
        rows = await conn.scalar(
            text("select count(*) from notifier.alerts where referral_id = :r"), {"r": referral}
        )
    assert rows == 1
    assert [a["referralId"] for a in await open_alerts(hub, "Merton")].count(referral) == 1


async def test_a_digest_goes_once_a_day_after_the_configured_time(hub: dict[str, Any]) -> None:
    # Another book on the same tables, for Merton, with the test's clock (London is on GMT).
    clock = MovableClock(datetime(2027, 1, 4, 7, 59, tzinfo=UTC))
    book = AlertBook(
        make_session_factory(hub["engine"]),
        digest_to={"Merton": "merton-coordinators@example.org"},
        digest_at=time(8, 0),
        clock=clock,
    )
    await book.record(breach(f"me-{uuid.uuid4().hex[:8]}"), str(uuid.uuid4()))
    assert await book.send_digests() == 0  # not yet eight o'clock
    clock.advance(minutes=1)
    assert await book.send_digests() == 1
    assert await book.send_digests() == 0  # once that day
    clock.advance(days=1)
    assert await book.send_digests() == 1  # and once the next
