"""Publishing to and reading from the real broker the way an agency or a referrer would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub_common.jsonio import loads
from hub_common.messaging.clients import bootstrap_list


async def publish(
    bootstrap: str,
    topic: str,
    value: bytes | None,
    key: str,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_list(bootstrap))
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


async def collect(
    bootstrap: str,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Read `topic` from the beginning until `until(values)` holds; fail with what was seen."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_list(bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
        # A topic made on demand (an agency's status topic) may appear after the start: look
        # for it every second, not every five minutes.
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    values: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(values):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s on {topic}; saw {len(values)} messages"
                )
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for records in batch.values():
                values.extend(loads(record.value) for record in records if record.value)
        return values
    finally:
        await consumer.stop()


async def publish_many(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish (key, value) pairs in order; per-key order holds since a key keeps its partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_list(bootstrap), linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(topic, value, key=key.encode()) for key, value in messages]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def publish_events(
    bootstrap: str, topic: str, events: list[tuple[str, dict[str, Any], str]]
) -> list[str]:
    """Publish (key, JSON value, event type) in order with the hub's envelope headers, as a hub
    service's outbox relay would; returns the event ids."""
    from hub_common.fhir.systems import FHIR_JSON
    from hub_common.jsonio import dumps
    from hub_common.messaging.envelope import Envelope

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_list(bootstrap), enable_idempotence=True
    )
    await producer.start()
    ids = []
    try:
        for key, value, event_type in events:
            envelope = Envelope.new(event_type, FHIR_JSON)
            ids.append(envelope.event_id)
            await producer.send_and_wait(
                topic, dumps(value), key=key.encode(), headers=envelope.to_headers()
            )
    finally:
        await producer.stop()
    return ids


async def read_to_end(
    bootstrap: str, topic: str
) -> list[tuple[bytes | None, dict[str, Any] | None]]:
    """Every (key, JSON value or None when it is not JSON) on `topic` now, up to the end of
    every partition, so a check sees extra messages as well as missing ones."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_list(bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    records: list[tuple[bytes | None, dict[str, Any] | None]] = []
    try:
        partitions = consumer.assignment() or set()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for found in batch.values():
                for record in found:
                    try:
                        value = loads(record.value) if record.value else None
                    except ValueError:
                        value = None
                    records.append((record.key, value))
        return records
    finally:
        await consumer.stop()
