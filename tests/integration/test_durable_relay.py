"""The benchmark's durable ceiling does what its name claims, on the real broker and database:
every message crosses the three hops once, each hop records it in its inbox and outbox in
PostgreSQL, marks the output published, and commits its offset only after that."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.hub import delete_topics, plain_dsn
from benchmarks.relay import RelayChain, create_topics, relay_topics
from tests.support.kafka_io import publish_many
from tests.support.notifier_setup import eventually
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

MESSAGES = 300


async def read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(values) < count:
                batch = await consumer.getmany(timeout_ms=500)
                values += [r.value for part in batch.values() for r in part if r.value]
    finally:
        await consumer.stop()
    return values


async def committed(bootstrap: str, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(
        meta.offset
        for partition, meta in offsets.items()
        if isinstance(partition, TopicPartition) and partition.topic == topic
    )


async def test_every_message_crosses_once_recorded_published_and_committed(
    stack: IsolatedStack, tmp_path: Path
) -> None:
    bootstrap = stack.kafka_bootstrap_servers
    names = relay_topics(stack.topic_prefix, "durable")
    await create_topics(bootstrap, names, partitions=3)
    dsn = plain_dsn(stack.database_url)
    group_prefix = f"{stack.topic_prefix}durable."
    chain = RelayChain(bootstrap, names, group_prefix, tmp_path, dsn)
    await asyncio.to_thread(chain.start)
    try:
        sent = [(f"k{n}", f"message {n}".encode()) for n in range(MESSAGES)]
        await publish_many(bootstrap, names[0], sent)
        arrived = await read_all(bootstrap, names[-1], MESSAGES)
        assert sorted(arrived) == sorted(value for _, value in sent)

        for n, source in enumerate(names[:-1]):
            group = f"{group_prefix}durable-{n + 1}"

            async def all_committed(group: str = group, source: str = source) -> bool:
                return await committed(bootstrap, group, source) >= MESSAGES

            await eventually(all_committed, what=f"{group}'s offsets", timeout=30)

        conn = await asyncpg.connect(dsn)
        try:
            inbox = await conn.fetch(
                "select hop, count(*) as n from bench_relay.inbox group by hop"
            )
            outbox = await conn.fetchrow(
                "select count(*) as n, count(published_at) as published from bench_relay.outbox"
            )
        finally:
            await conn.close()
        assert sorted(row["n"] for row in inbox) == [MESSAGES] * 3  # one row per hop per message
        # A hop marks its outputs published before it commits the offset of their inputs.
        assert outbox["n"] == outbox["published"] == 3 * MESSAGES
    finally:
        chain.stop()
        await delete_topics(bootstrap, f"{stack.topic_prefix}bench.")
