"""Waking on work, on the real database and broker: a commit wakes the idle outbox relay at
once though its fallback poll is 30 s away, the relay listens again after its listening
connection is killed, a service's own commits send no NOTIFY but its kick reaches the replica
holding the relay lock, and the delivery worker sends a delivery at its due time, not at the
next poll (hub_common.storage.wakeup)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutboxRelay, OutgoingEvent, add_to_outbox
from hub_common.storage.db import make_engine, make_session_factory
from hub_common.storage.wakeup import Wakeup, channel_of, connect_options
from hub_intake.adapters import orm as intake_orm
from hub_notifier.adapters import orm as notifier_orm
from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.delivery_store import DeliveryStore
from hub_notifier.domain.retry import RetryPolicy
from hub_notifier.service_layer.delivering import DeliveryWorker
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

FALLBACK = 30.0  # far beyond every wait below: only a wake-up can pass these tests
WOKEN_WITHIN = 0.5  # seconds; typically a few ms, kept loose for a shared two-core machine


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float) -> float:
    """Seconds until `check` holds, polled every 5 ms; fails after `timeout`."""
    start = time.monotonic()
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(loop: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(loop)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not task.done() or task.cancelled(), "the loop died"


async def stage_one(engine: AsyncEngine, topic: str) -> float:
    """Commit one outbox row from outside the relay's process view (no kick); when."""
    event = OutgoingEvent(topic, "referral-wake", b"{}", Envelope.new("test.wake", "text/plain"))
    async with engine.begin() as conn:
        await add_to_outbox(conn, intake_orm.outbox, [event])
    return time.monotonic()


async def test_a_commit_wakes_the_relay_at_once_and_after_its_listener_was_killed(
    stack: IsolatedStack, engine: AsyncEngine
) -> None:
    relay = OutboxRelay(
        engine,
        intake_orm.outbox,
        stack.kafka_bootstrap_servers,
        lock_key=0x7E59,
        fallback_poll_seconds=FALLBACK,
    )
    topic = stack.topics.alerts  # a hub topic this module leaves otherwise empty
    async with running(relay.run()):
        await until(lambda: relay.wakeup.connections == 1, "the relay listening", 15)
        # A first row, so the producer knows the topic's partitions (its first send to a
        # topic waits for them, a few hundred ms that are not the relay's).
        await stage_one(engine, topic)
        await until(lambda: relay.published == 1, "the first row published", 15)
        await asyncio.sleep(0.3)  # idle now, 30 s from its next poll

        committed = await stage_one(engine, topic)
        await until(lambda: relay.published == 2, "the next row published", WOKEN_WITHIN)
        print(f"published {1000 * (time.monotonic() - committed):.0f} ms after the commit")

        # Its listening connection dies (a PostgreSQL restart, a proxy's idle timeout): it
        # reconnects and still hears every commit.
        async with engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                    " where datname = current_database() and application_name = :name"
                ),
                {"name": f"hub wakeup {channel_of(intake_orm.outbox)}"},
            )
        assert killed == 1
        await until(lambda: relay.wakeup.connections == 2, "the relay listening again", 10)
        await asyncio.sleep(0.3)  # the round its reconnection set off is done

        committed = await stage_one(engine, topic)
        await until(lambda: relay.published == 3, "a row after the reconnection", WOKEN_WITHIN)
        print(f"and {1000 * (time.monotonic() - committed):.0f} ms after the reconnection")


async def test_a_services_commit_sends_no_notify_and_its_kick_reaches_the_lock_holder(
    stack: IsolatedStack, engine: AsyncEngine
) -> None:
    """Two replicas' relays on one outbox: the first holds the relay lock. The second replica
    commits through its own engine (`announces_commits`: no NOTIFY from the trigger) and kicks
    its relay, which forwards the kick to the first."""
    service = make_engine(stack.database_url, pool_size=1, announces_commits=True)
    listener = await asyncpg.connect(**connect_options(engine))
    heard: list[str] = []
    await listener.add_listener(channel_of(intake_orm.outbox), lambda *args: heard.append("x"))
    holder, other = (
        OutboxRelay(
            engine,
            intake_orm.outbox,
            stack.kafka_bootstrap_servers,
            lock_key=0x7E5A,
            fallback_poll_seconds=FALLBACK,
        )
        for _ in range(2)
    )
    topic = stack.topics.alerts
    try:
        async with running(holder.run()):
            await until(lambda: holder.wakeup.active, "the first relay holding the lock", 15)
            async with running(other.run()):
                await until(lambda: other.wakeup.connections == 1, "the other listening", 15)
                assert not other.wakeup.active
                await stage_one(service, topic)  # warms the producer up, as above
                other.kick()
                await until(lambda: holder.published == 1, "the first row published", 15)
                await asyncio.sleep(0.3)  # idle again, 30 s from the next poll
                heard.clear()

                committed = await stage_one(service, topic)
                await asyncio.sleep(0.2)
                assert heard == [], "the trigger notified for a service's own commit"
                assert holder.published == 1, "published without being woken"
                other.kick()
                await until(lambda: holder.published == 2, "the forwarded kick", WOKEN_WITHIN)
                assert other.published == 0 and other.wakeup.forwarded == 2
                print(f"published {1000 * (time.monotonic() - committed):.0f} ms after the commit")

                # A unit of work's session kicks the relays itself once it commits.
                await asyncio.sleep(0.3)
                sessions = make_session_factory(service)
                event = OutgoingEvent(
                    topic, "referral-wake", b"{}", Envelope.new("t", "text/plain")
                )
                async with sessions() as session, session.begin():
                    await add_to_outbox(session, intake_orm.outbox, [event])
                await until(lambda: holder.published == 3, "kicked on commit", WOKEN_WITHIN)
    finally:
        await listener.close()
        await service.dispose()


class Mailbox:
    """A mailer that keeps when each message was tried, and fails the first try to `flaky`."""

    def __init__(self, flaky: str) -> None:
        self.tried: dict[str, list[float]] = {}
        self._flaky = flaky

    async def send(self, recipient: str, message: bytes) -> Attempt:
        tries = self.tried.setdefault(recipient, [])
        tries.append(time.monotonic())
        return (
            Attempt(False, "SMTP 451")
            if recipient == self._flaky and len(tries) == 1
            else (Attempt(True))
        )


class NoWebhook:
    async def send(self, *_args: object, **_kwargs: object) -> Attempt:
        raise AssertionError("no webhook delivery in this test")


async def test_the_delivery_worker_wakes_for_a_new_delivery_and_when_a_retry_falls_due(
    stack: IsolatedStack, engine: AsyncEngine
) -> None:
    run = uuid.uuid4().hex[:8]
    steady, flaky = f"steady-{run}@example.org", f"flaky-{run}@example.org"
    mailbox = Mailbox(flaky)
    backoff = 1.5
    wakeup = Wakeup(engine, channel_of(notifier_orm.deliveries), fallback_seconds=FALLBACK)
    worker = DeliveryWorker(
        DeliveryStore(
            engine,
            RetryPolicy(base=timedelta(seconds=backoff), jitter=0.0),
            clock=lambda: datetime.now(UTC),
        ),
        NoWebhook(),
        mailbox,
        concurrency=4,
        timeout_seconds=5.0,
        lease_seconds=10.0,
        wakeup=wakeup,
    )
    async with running(worker.run()):
        await until(lambda: wakeup.connections == 1, "the worker listening", 15)
        await asyncio.sleep(0.3)  # idle now, with nothing due: asleep until the fallback

        async with engine.begin() as conn:  # from outside the worker's process view: no kick
            await conn.execute(
                insert(notifier_orm.deliveries),
                [
                    {
                        "delivery_id": str(uuid.uuid4()),
                        "kind": "email",
                        "channel": "email",
                        "target": address,
                        "referral_id": f"referral-{address}",
                        "body": b"status changed",
                        "status": "pending",
                        "due_at": datetime.now(UTC),
                    }
                    for address in (steady, flaky)
                ],
            )
        committed = time.monotonic()
        await until(lambda: steady in mailbox.tried, "the new delivery sent", WOKEN_WITHIN)
        assert mailbox.tried[flaky][0] - committed < WOKEN_WITHIN
        # The failed one is due again `backoff` seconds later: tried then, not at the poll.
        await until(lambda: len(mailbox.tried[flaky]) == 2, "the retry", backoff + 5)
        first, second = mailbox.tried[flaky]
        assert backoff <= second - first < backoff + WOKEN_WITHIN, (
            f"retried after {second - first:.2f} s, due after {backoff} s"
        )
        assert len(mailbox.tried[steady]) == 1
