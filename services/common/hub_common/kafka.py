"""Kafka plumbing: creating the hub's topics and the consumer settings every service uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from hub_common.topics import Topics

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 6


async def ensure_topics(
    kafka: str | Mapping[str, Any],
    topics: Topics,
    *,
    partitions: int = DEFAULT_PARTITIONS,
    wait_seconds: float = 60.0,
) -> list[str]:
    """Create any missing hub topic; return the names created. Waits for the broker to answer."""
    options = {"bootstrap_servers": kafka} if isinstance(kafka, str) else dict(kafka)
    admin = AIOKafkaAdminClient(**options)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(
                    f"Kafka at {options['bootstrap_servers']} did not answer within {wait_seconds:.0f} s"
                ) from None
            await asyncio.sleep(1.0)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics.all() if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=1 if topics.is_compacted(name) else partitions,
                        replication_factor=1,
                        topic_configs={"cleanup.policy": "compact"}
                        if topics.is_compacted(name)
                        else {},
                    )
                    for name in missing
                ]
            )
            log.info("created %d topics", len(missing))
        return missing
    finally:
        await admin.close()
