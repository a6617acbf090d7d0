"""Topics the hub makes the first time it publishes to one: the agencies' status topics.

An agency's status topic (`referrals.status.<source>.<agency>`, hub_common.messaging.topics)
is needed only once there is something to tell that agency, and the hub keeps no list of
agencies to make them from beforehand (agencies are known by the referrals they send).
Production brokers run with `auto.create.topics.enable=false`, so the publisher, the outbox
relay, creates such a topic itself before it sends the topic's first record: CreateTopics,
with the hub's configuration for it (`topic_configs`: deleted by time after the `event`
period), one partition (an agency's statuses are few), the cluster's replication factor. The
service needs the Create ACL on the `referrals.status.` prefix (`referral-hub kafka acls`).
`referral-hub topics ensure` later brings the topics that exist to a changed schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from hub_common.messaging.clients import aiokafka_options
from hub_common.messaging.kafka import topic_configs
from hub_common.messaging.topics import Topics
from hub_common.privacy.retention import RetentionPolicy
from hub_common.settings import InfraSettings

log = logging.getLogger(__name__)

AGENCY_TOPIC_PARTITIONS = 1


class OnDemandTopics:
    """Creates the agency status topics a batch names and this process has not made yet."""

    def __init__(
        self,
        kafka: Mapping[str, Any],
        topics: Topics,
        *,
        retention: RetentionPolicy | None = None,
        replication_factor: int = 1,
        min_insync: int | None = None,
    ) -> None:
        self._kafka = dict(kafka)
        self._topics = topics
        self._retention = retention
        self._replication_factor = replication_factor
        self._min_insync = min_insync
        self._known: set[str] = set()

    @classmethod
    def of(cls, settings: InfraSettings) -> OnDemandTopics:
        return cls(
            aiokafka_options(settings),
            settings.topics,
            retention=settings.retention_policy,
            replication_factor=settings.kafka_replication_factor,
            min_insync=settings.kafka_min_insync_replicas,
        )

    async def ensure(self, names: Iterable[str]) -> list[str]:
        """Make sure every agency status topic among `names` exists; returns those it created.

        Any other topic is left alone (the hub's own are made by `topics ensure`). A topic
        another replica made first is fine; any other refusal (no Create ACL, say) raises,
        so the relay retries with backoff and publishes nothing out of order."""
        wanted = sorted(
            {name for name in set(names) - self._known if self._topics.is_agency_status(name)}
        )
        if not wanted:
            return []
        admin = AIOKafkaAdminClient(**self._kafka)
        try:
            await admin.start()
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=AGENCY_TOPIC_PARTITIONS,
                        replication_factor=self._replication_factor,
                        topic_configs=topic_configs(
                            self._topics,
                            name,
                            retention=self._retention,
                            replication_factor=self._replication_factor,
                            min_insync=self._min_insync,
                        ),
                    )
                    for name in wanted
                ]
            )
        finally:
            await admin.close()
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise for_code(code)(f"cannot create the status topic {name}")
        self._known.update(wanted)
        if created:
            log.info("created %d agency status topics", len(created))
        return created
