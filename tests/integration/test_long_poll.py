"""An idle subscriber waits on the broker (a long poll) and still gets a record at once.

The unit tests show an idle subscriber makes one poll per `POLL_WAIT_MS` and never sleeps on
top of it; this shows, on the real broker, that the long wait adds nothing to a record's
latency: a record published at a quiet moment reaches its handler in milliseconds, not in
the up to two wait periods FastStream's own batch subscriber could take; and that stopping
the subscriber does not wait for its poll to end.
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from hub_common.messaging.clients import bootstrap_list
from hub_common.messaging.consuming import POLL_WAIT_MS, Delivery, subscribe
from tests.support.infra import Infrastructure

QUIET_MOMENTS = 5


async def test_a_record_sent_at_a_quiet_moment_arrives_at_once(infra: Infrastructure) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    topic = f"test.long-poll.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_list(bootstrap))
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

    async def apply(value: dict[str, Any], delivery: Delivery) -> None:
        arrived.put_nowait((value["n"], loop.time()))

    broker = KafkaBroker(bootstrap_list(bootstrap))
    subscribe(
        broker,
        topics=topic,
        group_id=f"test-long-poll-{uuid.uuid4().hex[:8]}",
        message=dict,
        description="latency probe",
        apply=apply,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_list(bootstrap))
    await broker.start()
    await producer.start()
    try:
        # The first record proves the group has joined and the subscriber polls.
        await producer.send_and_wait(topic, b'{"n": "warm-up"}')
        assert (await asyncio.wait_for(arrived.get(), 60))[0] == "warm-up"
        latencies = []
        for moment in range(QUIET_MOMENTS):
            # Idle for a while, and send part-way through a wait (the waits last seconds):
            # a subscriber that slept, or a fetcher that looked only on its timer, would
            # take the rest of that wait.
            await asyncio.sleep(0.6 + moment * 0.2)
            sent = loop.time()
            await producer.send_and_wait(topic, f'{{"n": "{moment}"}}'.encode())
            n, at = await asyncio.wait_for(arrived.get(), 10)
            assert n == str(moment)
            latencies.append((at - sent) * 1000)
        # Stopping does not sit out the subscriber's wait on an idle broker.
        stopping = loop.time()
        await broker.stop()
        stop_seconds = loop.time() - stopping
    finally:
        await producer.stop()
        await broker.stop()
        await admin.delete_topics([topic])
        await admin.close()
    print(f"\nlatency at quiet moments (ms): {', '.join(f'{ms:.0f}' for ms in latencies)}")
    # A subscriber sleeping after empty polls would take half a wait or more, on average.
    assert statistics.median(latencies) < 100, latencies
    assert stop_seconds < POLL_WAIT_MS / 1000 / 2, stop_seconds
