"""Reading the whole directory off its compacted topic, as it stands now.

A consumer without a group reads every partition from the beginning to the end offsets taken
at the start: the latest value per key, a tombstone removing the key. Anything published after
the start is left for the next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub_common.jsonio import loads


async def read_compacted(
    kafka: Mapping[str, Any], topic: str, *, within: float = 60.0
) -> dict[str, Any]:
    """Key -> latest JSON value of `topic` (keys whose latest value is a tombstone are absent)."""
    # Subscribed without a group, the consumer is given every partition of the topic.
    consumer = AIOKafkaConsumer(
        topic, **kafka, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment(), key=lambda p: p.partition)
        for _ in range(40):  # a topic just created takes a moment to reach the metadata
            if partitions:
                break
            await asyncio.sleep(0.25)
            partitions = sorted(consumer.assignment(), key=lambda p: p.partition)
        else:
            raise RuntimeError(f"topic {topic} does not exist: run `referral-hub topics ensure`")
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        table: dict[str, Any] = {}
        deadline = asyncio.get_running_loop().time() + within
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"reading {topic} to its end took over {within:.0f} s")
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue
                    key = (record.key or b"").decode("utf-8", errors="replace")
                    if record.value is None:
                        table.pop(key, None)
                    else:
                        table[key] = loads(record.value)
        return table
    finally:
        await consumer.stop()
