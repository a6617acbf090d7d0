"""On the real broker: `topics ensure` gives every topic deleted by time the schedule's event
retention, brings existing topics to a changed schedule, and leaves compacted topics alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub_common.messaging.kafka import RECORD_ALLOWANCE, ensure_topics
from hub_common.messaging.topics import Topics
from hub_common.privacy.retention import RetentionPolicy
from hub_common.settings import DEFAULT_AGENCY_MESSAGE_MAX_BYTES
from tests.support.infra import Infrastructure
from tests.support.stack import drop_topics, run_id

pytestmark = pytest.mark.infra

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
async def topics(infra: Infrastructure) -> AsyncIterator[Topics]:
    topics = Topics(f"t{run_id()}.")
    yield topics
    await drop_topics(infra.kafka_bootstrap_servers, topics)


async def configs(kafka: str, names: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configuration, once the broker describes them all (a topic just created
    may describe as empty for a moment)."""
    for _ in range(50):
        found = await _describe(kafka, names)
        if all(found.get(name) for name in names):
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"Kafka did not describe {names}")


async def settled(kafka: str, name: str, key: str, expected: str) -> str:
    """A topic's setting once it shows `expected`, or what it still shows after 10 s: under
    KRaft a broker applies an altered configuration a moment after the controller commits it."""
    value = ""
    for _ in range(50):
        value = (await configs(kafka, [name]))[name].get(key, "")
        if value == expected:
            break
        await asyncio.sleep(0.2)
    return value


async def _describe(kafka: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    return {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in described
        for resource in response.resources
    }


async def test_new_topics_get_the_schedules_retention(
    infra: Infrastructure, topics: Topics
) -> None:
    kafka = infra.kafka_bootstrap_servers
    await ensure_topics(kafka, topics, retention=RetentionPolicy.parse("event=14d"), partitions=1)
    found = await configs(kafka, topics.all())
    for name in topics.all():
        if topics.is_compacted(name):
            assert found[name]["cleanup.policy"] == "compact"
            assert found[name]["retention.ms"] != str(14 * DAY_MS)  # the broker's default
        else:
            assert found[name]["retention.ms"] == str(14 * DAY_MS), name


async def test_existing_topics_are_brought_to_a_changed_schedule(
    infra: Infrastructure, topics: Topics
) -> None:
    kafka = infra.kafka_bootstrap_servers
    # Topics made before retention was managed: the broker's defaults, nothing of the hub's.
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=2, replication_factor=1) for name in topics.all()]
        )
    finally:
        await admin.close()
    inbound, requested, directory = topics.inbound("police"), topics.requested, topics.directory
    before = await configs(kafka, topics.all())  # every topic known before ensuring
    assert before[requested]["retention.ms"] != str(30 * DAY_MS)

    created = await ensure_topics(kafka, topics, partitions=1)  # the default schedule: 30 days

    assert created == []
    assert await settled(kafka, requested, "retention.ms", str(30 * DAY_MS)) == str(30 * DAY_MS)
    assert await settled(kafka, inbound, "retention.ms", str(30 * DAY_MS)) == str(30 * DAY_MS)
    after = await configs(kafka, [inbound, requested, directory])
    # The inbound topic's size limit is set with it, not lost to the change.
    assert after[inbound]["max.message.bytes"] == str(
        DEFAULT_AGENCY_MESSAGE_MAX_BYTES + RECORD_ALLOWANCE
    )
    assert after[directory] == before[directory]  # made by hand: left as it is

    await ensure_topics(kafka, topics, retention=RetentionPolicy.parse("event=7d"))
    assert await settled(kafka, requested, "retention.ms", str(7 * DAY_MS)) == str(7 * DAY_MS)
