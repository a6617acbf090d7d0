"""On the real broker: the inbound topics take the largest agency message intake's HTTP route
takes, because both are sized by the same setting; a much larger one is refused by Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError

from hub_common.messaging.kafka import RECORD_ALLOWANCE, ensure_topics, max_record_bytes
from hub_common.messaging.topics import Topics
from tests.support.infra import Infrastructure
from tests.support.stack import drop_topics, run_id

pytestmark = pytest.mark.infra

LIMIT = 1_500_000  # above Kafka's own 1 MiB default, so the topic setting is what lets it in


@pytest.fixture
async def topics(infra: Infrastructure) -> AsyncIterator[Topics]:
    topics = Topics(f"t{run_id()}.")
    await ensure_topics(
        infra.kafka_bootstrap_servers, topics, agency_message_max_bytes=LIMIT, partitions=1
    )
    yield topics
    await drop_topics(infra.kafka_bootstrap_servers, topics)


async def test_inbound_topics_are_created_with_the_agency_limit(
    infra: Infrastructure, topics: Topics
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name)
                for name in (topics.inbound("housing"), topics.requested)
            ]
        )
    finally:
        await admin.close()
    values = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in described
        for resource in response.resources
    }
    assert values[topics.inbound("housing")]["max.message.bytes"] == str(LIMIT + RECORD_ALLOWANCE)
    assert values[topics.requested]["max.message.bytes"] != str(LIMIT + RECORD_ALLOWANCE)


async def test_a_message_at_the_limit_is_taken_and_a_far_larger_one_refused(
    infra: Infrastructure, topics: Topics
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers,
        max_request_size=2 * max_record_bytes(LIMIT),  # let the broker, not the client, decide
    )
    await producer.start()
    try:
        topic = topics.inbound("housing")
        key = b"x" * 200  # a long referrer reference as the key
        await producer.send_and_wait(
            topic, b"a" * LIMIT, key=key, headers=[("traceparent", b"0" * 55)]
        )
        with pytest.raises(MessageSizeTooLargeError):
            await producer.send_and_wait(topic, b"a" * (LIMIT + RECORD_ALLOWANCE + 1), key=key)
    finally:
        await producer.stop()
