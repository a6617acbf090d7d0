"""Kafka entrypoints of the notifier: referrals, their Task snapshots, and rejections."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from hub_common import contract
from hub_common.subscriptions import Delivery, subscribe_json
from hub_common.topics import INBOUND_SOURCES
from hub_notifier.config import NotifierSettings
from hub_notifier.service_layer.tracking import TrackingService


def declare_publications(broker: KafkaBroker, settings: NotifierSettings) -> None:
    contract.declare_publications(
        broker,
        {
            settings.topics.status(source): (
                f"Status notifications for {source} agencies that subscribed with the Kafka "
                "channel: the same id-only FHIR Subscriptions Backport history Bundle a "
                "rest-hook receives, keyed by referral id"
            )
            for source in INBOUND_SOURCES
        },
    )


def register_consumers(
    broker: KafkaBroker, service: TrackingService, settings: NotifierSettings
) -> None:
    # Each `apply` is idempotent (event id, then Task version), as subscribe_json requires.
    async def on_requested(request: Any, delivery: Delivery) -> None:
        await service.record_request(request, delivery.event_id)

    async def on_task(task: Any, delivery: Delivery) -> None:
        await service.record_task(task, delivery.event_id, delivery.traceparent)

    async def on_rejected(event: Any, delivery: Delivery) -> None:
        await service.record_rejection(event, delivery.event_id, delivery.traceparent)

    topics = settings.topics
    # A consumer group per topic: members of one group joining one after another would make
    # each other rebalance, and a rebalance on one topic would pause the other two.
    for topic, group, apply, description in (
        (
            topics.requested,
            "notifier-requested",
            on_requested,
            "Accepted referrals, to answer referrers' reads",
        ),
        (
            topics.tasks,
            "notifier-tasks",
            on_task,
            "Task snapshots: every change to tell the referrer",
        ),
        (
            topics.rejected,
            "notifier-rejected",
            on_rejected,
            "Rejected referrals, to tell the referrer why",
        ),
    ):
        subscribe_json(
            broker,
            topic=topic,
            group_id=settings.group_id(group),
            description=description,
            apply=apply,
        )
