"""Kafka plumbing: creating the hub's topics and the consumer settings every service uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError

from hub_common.messaging.clients import bootstrap_list
from hub_common.messaging.topics import Topics
from hub_common.privacy.retention import RetentionPolicy
from hub_common.settings import DEFAULT_AGENCY_MESSAGE_MAX_BYTES

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 6
RECORD_ALLOWANCE = 16_384
"""Room beside an agency message's body for what Kafka counts with it in max.message.bytes:
the record's key and headers and the batch's framing (about 70 bytes without them)."""


def max_record_bytes(agency_message_max_bytes: int) -> int:
    """The most Kafka must take in one record so a body of `agency_message_max_bytes` fits:
    the inbound topics' max.message.bytes, and the CLI producer's max_request_size."""
    return agency_message_max_bytes + RECORD_ALLOWANCE


def min_insync_replicas(replication_factor: int, configured: int | None = None) -> int:
    """How many replicas must have a write before it counts: as configured, else one less than
    the replication factor (2 of 3), so the loss of one broker stops no producer."""
    wanted = configured if configured is not None else max(1, replication_factor - 1)
    if wanted > replication_factor:
        raise ValueError(
            f"min.insync.replicas {wanted} is more than the replication factor {replication_factor}:"
            " no write could ever succeed"
        )
    return wanted


def topic_configs(
    topics: Topics,
    name: str,
    agency_message_max_bytes: int = DEFAULT_AGENCY_MESSAGE_MAX_BYTES,
    retention: RetentionPolicy | None = None,
    *,
    replication_factor: int = 1,
    min_insync: int | None = None,
) -> dict[str, str]:
    """The configuration a hub topic is created with, and brought back to by `topics ensure`.

    Every topic that is not compacted is deleted by time, after the schedule's `event` period
    (hub_common.privacy.retention): Kafka is the hub's transport, not its record, and a topic holding a
    person's referral must not keep it longer than the stores that answer for it. On a cluster,
    `min.insync.replicas` says how many replicas must have each write."""
    configs: dict[str, str] = {}
    if replication_factor > 1:
        configs["min.insync.replicas"] = str(min_insync_replicas(replication_factor, min_insync))
    if topics.is_compacted(name):
        configs["cleanup.policy"] = "compact"
        return configs
    policy = retention or RetentionPolicy.parse(None)
    configs["retention.ms"] = str(policy.topic_retention_ms())
    if topics.is_inbound(name):
        # Agencies' messages are as large on Kafka as over HTTP: one setting sizes both.
        configs["max.message.bytes"] = str(max_record_bytes(agency_message_max_bytes))
    return configs


async def ensure_topics(
    kafka: str | Mapping[str, Any],
    topics: Topics,
    *,
    agency_message_max_bytes: int = DEFAULT_AGENCY_MESSAGE_MAX_BYTES,
    retention: RetentionPolicy | None = None,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    min_insync: int | None = None,
    wait_seconds: float = 60.0,
) -> list[str]:
    """Create any missing hub topic; return the names created. Waits for the broker to answer.

    Topics that exist keep their partitions, but a topic deleted by time is brought back to
    the hub's configuration (`topic_configs`): a changed retention schedule or
    `agency_message_max_bytes` reaches it by running this again. The change replaces the
    topic's own settings (Kafka's AlterConfigs): one set by hand on such a topic is undone.
    Compacted topics are left as they are.
    """
    options = (
        {"bootstrap_servers": bootstrap_list(kafka)} if isinstance(kafka, str) else dict(kafka)
    )
    admin = AIOKafkaAdminClient(**options)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    try:  # closed on every path, a start that never succeeded included
        while True:
            try:
                await admin.start()
                break
            except KafkaConnectionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(
                        f"Kafka at {','.join(options['bootstrap_servers'])} did not answer within {wait_seconds:.0f} s"
                    ) from None
                await asyncio.sleep(1.0)
        existing = set(await admin.list_topics())
        missing = [name for name in topics.all() if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=1 if topics.is_compacted(name) else partitions,
                        replication_factor=replication_factor,
                        topic_configs=topic_configs(
                            topics,
                            name,
                            agency_message_max_bytes,
                            retention,
                            replication_factor=replication_factor,
                            min_insync=min_insync,
                        ),
                    )
                    for name in missing
                ]
            )
            log.info("created %d topics", len(missing))
        # The agencies' status topics are made when first published to (on_demand); a
        # changed schedule reaches those that exist here, like the hub's own.
        present = [
            name for name in topics.all() if name in existing and not topics.is_compacted(name)
        ] + sorted(name for name in existing if topics.is_agency_status(name))
        if present:
            await _configure(
                admin,
                {
                    name: topic_configs(
                        topics,
                        name,
                        agency_message_max_bytes,
                        retention,
                        replication_factor=replication_factor,
                        min_insync=min_insync,
                    )
                    for name in present
                },
            )
        return missing
    finally:
        await admin.close()


async def _configure(admin: AIOKafkaAdminClient, configs: Mapping[str, Mapping[str, str]]) -> None:
    """Set existing topics' configuration; fails naming a topic the broker would not change."""
    responses = await admin.alter_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(values))
            for name, values in configs.items()
        ]
    )
    refused = [
        f"{resource[3]} ({resource[1] or resource[0]})"
        for response in responses
        for resource in response.resources
        if resource[0] != 0
    ]
    if refused:
        raise RuntimeError(f"Kafka refused the topic configuration of {', '.join(refused)}")
