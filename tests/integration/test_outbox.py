"""The outbox on the real database and broker: staged in order, published in order, then gone."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.messaging.envelope import EVENT_ID, Envelope, header_map
from hub_common.messaging.on_demand import OnDemandTopics
from hub_common.messaging.outbox import (
    OutboxRelay,
    OutgoingEvent,
    add_to_outbox,
    outbox_columns,
    outbox_rows,
)
from hub_common.privacy.retention import RetentionPolicy
from hub_common.storage.batch_insert import insert_batch
from hub_common.storage.db import make_engine
from hub_intake.adapters import orm
from hub_intake.adapters.known_referrals import NEW_REFERRALS
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.database_url, pool_size=2)
    yield engine
    await engine.dispose()


def events(topic: str, count: int) -> list[OutgoingEvent]:
    # Two referrals interleaved, with bytes that are not valid UTF-8 in the values.
    return [
        OutgoingEvent(
            topic=topic,
            key=f"referral-{n % 2}",
            value=b"\xff\x00" + str(n).encode(),
            envelope=Envelope.new("test.event", "application/octet-stream"),
        )
        for n in range(count)
    ]


async def test_staged_events_keep_their_order_bytes_and_headers(engine: AsyncEngine) -> None:
    staged = events("t.order", 40)
    async with engine.begin() as conn:
        await add_to_outbox(conn, orm.outbox, staged[:1])  # a lone event: the same statement
        await add_to_outbox(conn, orm.outbox, staged[1:])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(orm.outbox).where(orm.outbox.c.topic == "t.order").order_by(orm.outbox.c.seq)
            )
        ).all()
    assert [row.value for row in rows] == [event.value for event in staged]
    assert [row.key for row in rows] == [event.key for event in staged]
    assert [row.headers for row in rows] == [dict(e.envelope.to_headers_str()) for e in staged]
    async with engine.begin() as conn:  # no relay runs here: leave the outbox empty
        await conn.execute(delete(orm.outbox).where(orm.outbox.c.topic == "t.order"))


async def test_the_relay_publishes_every_row_in_order_then_deletes_exactly_those(
    stack: IsolatedStack, engine: AsyncEngine
) -> None:
    topic = stack.topics.alerts  # a hub topic this module leaves otherwise empty
    staged = events(topic, 25)
    async with engine.begin() as conn:
        await add_to_outbox(conn, orm.outbox, staged)
    relay = OutboxRelay(engine, orm.outbox, stack.kafka_bootstrap_servers, lock_key=0x7E57)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers)
    await producer.start()

    async def left() -> int:
        async with engine.connect() as conn:
            rows = await conn.execute(select(orm.outbox.c.seq).where(orm.outbox.c.topic == topic))
            return len(rows.all())

    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            assert await relay.publish_batch(producer, conn) == len(staged)
            # Published but kept until the next round: a crash now would publish them again
            # (consumers drop repeats), never lose them.
            assert await left() == len(staged)
            assert await relay.publish_batch(producer, conn) == 0
    finally:
        await producer.stop()
    assert await left() == 0

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    received = []
    try:
        while len(received) < len(staged):
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, f"only {len(received)} of {len(staged)} events reached {topic}"
            for records in batch.values():
                received.extend(records)
    finally:
        await consumer.stop()
    for key in ("referral-0", "referral-1"):
        sent = [e.envelope.event_id for e in staged if e.key == key]
        got = [header_map(r.headers)[EVENT_ID] for r in received if r.key == key.encode()]
        assert got == sent, f"events of {key} out of order or missing"
    assert relay.published == len(staged)


class FailingRelay(OutboxRelay):
    """A relay whose Kafka fails right after it took the lock."""

    async def _publish_holding_the_lock(self, conn: Any) -> None:
        raise RuntimeError("Kafka away")


async def test_a_failed_relay_lets_go_of_its_lock(engine: AsyncEngine) -> None:
    key = 0x7E58
    relay = FailingRelay(engine, orm.outbox, "127.0.0.1:1", lock_key=key)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.3)  # it took the lock, failed, and waits to try again
        async with engine.connect() as conn:
            holders = await conn.scalar(
                text(
                    "select count(*) from pg_locks where locktype = 'advisory'"
                    " and classid = 0 and objid = :key and granted"
                ),
                {"key": key},
            )
            # Free for the next try, or for another replica: not kept by a pooled connection.
            assert holders == 0
            assert await conn.scalar(select(func.pg_try_advisory_lock(key)))
            await conn.scalar(select(func.pg_advisory_unlock(key)))
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_the_relay_makes_an_agency_status_topic_before_its_first_record(
    stack: IsolatedStack, engine: AsyncEngine
) -> None:
    # Auto-create is off on the hub's brokers: the publisher makes each agency's topic.
    topic = stack.topics.agency_status("community", f"urn:test|agency {uuid.uuid4()}")
    staged = events(topic, 3)
    async with engine.begin() as conn:
        await add_to_outbox(conn, orm.outbox, staged)
    retention = RetentionPolicy.parse("event=3d")
    on_demand = OnDemandTopics(
        {"bootstrap_servers": stack.kafka_bootstrap_servers}, stack.topics, retention=retention
    )
    relay = OutboxRelay(
        engine, orm.outbox, stack.kafka_bootstrap_servers, lock_key=0x7E59, on_demand=on_demand
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers)
    await producer.start()
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            assert await relay.publish_batch(producer, conn) == len(staged)
            assert await relay.publish_batch(producer, conn) == 0  # deletes them
    finally:
        await producer.stop()
    # Made once, with the hub's configuration for it; a second ask, or a hub topic, makes none.
    assert await on_demand.ensure([topic, stack.topics.alerts]) == []
    assert (
        await OnDemandTopics(
            {"bootstrap_servers": stack.kafka_bootstrap_servers}, stack.topics
        ).ensure([topic])
        == []
    )  # another replica finds it there
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap_servers)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        [configs] = (
            await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        )[0].resources
    finally:
        await admin.close()
    assert len(described["partitions"]) == 1
    settings = {name: value for name, value, *_ in configs[4]}
    assert settings["retention.ms"] == str(retention.topic_retention_ms())

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    received: list[bytes | None] = []
    try:
        while len(received) < len(staged):
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, f"only {len(received)} of {len(staged)} events reached {topic}"
            received += [record.value for records in batch.values() for record in records]
    finally:
        await consumer.stop()
    assert received == [event.value for event in staged]


async def test_a_batch_writes_its_rows_and_its_outbox_rows_in_one_statement(
    engine: AsyncEngine,
) -> None:
    """hub_common.storage.batch_insert, as intake's batches use it: the new referrals, then the
    outbox rows, one statement; a referral already recorded is skipped (the count says so)."""
    run = uuid.uuid4().hex[:8]
    rows = [
        {
            "referral_id": f"{run}-{n}",
            "source": "community",
            "referrer_reference": f"{run}-ref-{n}",
            "episode_id": f"{run}-{n}",
            "person_key": f"{run}-person",
            "received_at": datetime.now(UTC),
            "service_request": {"resourceType": "ServiceRequest", "n": n},
            "sending_agency": None if n else "system|org",
        }
        for n in range(3)
    ]
    staged = events(f"t.batch.{run}", 5)
    statements: list[str] = []
    async with engine.begin() as conn:
        sync = conn.sync_connection
        assert sync is not None

        def listener(*args: Any) -> None:
            statements.append(args[2])

        event.listen(sync, "before_cursor_execute", listener)
        counts = await insert_batch(
            conn, [(NEW_REFERRALS, rows), (outbox_columns(orm.outbox), outbox_rows(staged))]
        )
        event.remove(sync, "before_cursor_execute", listener)
        # The same references again (a resend, another replica): skipped, and counted so.
        again = await insert_batch(
            conn, [(NEW_REFERRALS, rows[:1]), (outbox_columns(orm.outbox), [])]
        )
    assert counts == [3, 5] and len(statements) == 1
    assert again == [0, 0]
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(orm.referrals)
                .where(orm.referrals.c.person_key == f"{run}-person")
                .order_by(orm.referrals.c.referral_id)
            )
        ).all()
        outbox = (
            await conn.execute(
                select(orm.outbox)
                .where(orm.outbox.c.topic == f"t.batch.{run}")
                .order_by(orm.outbox.c.seq)
            )
        ).all()
    assert [row.service_request for row in stored] == [row["service_request"] for row in rows]
    assert [row.sending_agency for row in stored] == ["system|org", None, None]
    assert [row.value for row in outbox] == [event.value for event in staged]
    assert [row.headers for row in outbox] == [dict(e.envelope.to_headers_str()) for e in staged]
    async with engine.begin() as conn:
        await conn.execute(delete(orm.outbox).where(orm.outbox.c.topic == f"t.batch.{run}"))
        await conn.execute(
            delete(orm.referrals).where(orm.referrals.c.person_key == f"{run}-person")
        )
