"""Kafka entrypoints of the notifier: referrals, their Task snapshots, rejections, the hub's
audit entries and its service level alerts."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from hub_common import contract
from hub_common.messaging.consuming import Apply, ApplyBatch, Delivery, subscribe
from hub_common.messaging.messages import (
    AlertMessage,
    AuditMessage,
    BundleMessage,
    DataProtectionMessage,
    OnwardEvent,
    RejectedMessage,
    ServiceRequestMessage,
    TaskMessage,
)
from hub_common.privacy.data_protection import PUBLICATION as DATA_PROTECTION_PUBLICATION
from hub_common.security.audit import AUDIT_PUBLICATION, AuditEntry
from hub_notifier.config import NotifierSettings
from hub_notifier.service_layer.alerting import AlertBook
from hub_notifier.service_layer.audit_trail import AuditTrail
from hub_notifier.service_layer.onward_notices import OnwardNotices
from hub_notifier.service_layer.tracking import TrackingService


def declare_publications(broker: KafkaBroker, settings: NotifierSettings) -> None:
    contract.declare_publications(
        broker,
        {
            settings.topics.agency_status_address: (
                "Status notifications for an agency that subscribed with the Kafka channel, on "
                "a topic of its own (its source, then its identifier in topic-safe form: "
                "docs/contract.md, Topics), readable by that agency alone: the same id-only "
                "FHIR Subscriptions Backport history Bundle a rest-hook receives, keyed by "
                "referral id. The topic is created when first published to",
                BundleMessage,
            ),
            settings.topics.audit: (AUDIT_PUBLICATION, AuditMessage),
            settings.topics.data_protection: (DATA_PROTECTION_PUBLICATION, DataProtectionMessage),
        },
    )


def register_consumers(
    broker: KafkaBroker, service: TrackingService, settings: NotifierSettings
) -> None:
    # Each `apply` is idempotent (event id, then Task version), as `subscribe` requires.
    async def on_requested(request: ServiceRequestMessage, delivery: Delivery) -> None:
        await service.record_request(request.value, delivery.event_id)

    async def on_task(task: TaskMessage, delivery: Delivery) -> None:
        await service.record_task(task.value, delivery.event_id, delivery.traceparent)

    async def on_rejected(event: RejectedMessage, delivery: Delivery) -> None:
        await service.record_rejection(event.value, delivery.event_id, delivery.traceparent)

    # A batch in one transaction: one commit, and one statement per table for the lot.
    async def on_requested_batch(batch: list[tuple[ServiceRequestMessage, Delivery]]) -> None:
        await service.record_requests([(request.value, d.event_id) for request, d in batch])

    async def on_task_batch(batch: list[tuple[TaskMessage, Delivery]]) -> None:
        await service.record_tasks([(task.value, d.event_id, d.traceparent) for task, d in batch])

    topics = settings.topics
    # A consumer group per topic: members of one group joining one after another would make
    # each other rebalance, and a rebalance on one topic would pause the other two.
    _subscribe(
        broker,
        settings,
        topics.requested,
        "notifier-requested",
        ServiceRequestMessage,
        on_requested,
        on_requested_batch,
        "Accepted referrals, to answer referrers' reads",
    )
    _subscribe(
        broker,
        settings,
        topics.tasks,
        "notifier-tasks",
        TaskMessage,
        on_task,
        on_task_batch,
        "Task snapshots: every change to tell the referrer",
    )
    _subscribe(
        broker,
        settings,
        topics.rejected,
        "notifier-rejected",
        RejectedMessage,
        on_rejected,
        None,
        "Rejected referrals, to tell the referrer why",
    )


def _subscribe(
    broker: KafkaBroker,
    settings: NotifierSettings,
    topic: str,
    group: str,
    message: Any,
    apply: Apply[Any],
    apply_batch: ApplyBatch[Any] | None,
    description: str,
) -> None:
    subscribe(
        broker,
        topics=topic,
        group_id=settings.group_id(group),
        message=message,
        description=description,
        apply=apply,
        apply_batch=apply_batch,
    )


def register_audit_consumer(
    broker: KafkaBroker, trail: AuditTrail, settings: NotifierSettings
) -> None:
    """Keep every service's audit entries. Idempotent by event id (the table's primary key);
    a batch is stored in one transaction, as reads can make many entries."""

    async def on_entry(entry: AuditMessage, delivery: Delivery) -> None:
        await trail.record([AuditEntry.from_json(entry.value)])

    async def on_entries(batch: list[tuple[AuditMessage, Delivery]]) -> None:
        # An entry with a value out of the vocabulary fails the batch with ValueError: it is
        # then applied one by one, and only that entry is set aside.
        await trail.record([AuditEntry.from_json(entry.value) for entry, _ in batch])

    subscribe(
        broker,
        topics=settings.topics.audit,
        group_id=settings.group_id("notifier-audit"),
        message=AuditMessage,
        description="Every read and change of personal data in the hub, kept append-only",
        apply=on_entry,
        apply_batch=on_entries,
    )


def register_onward_consumer(
    broker: KafkaBroker, notices: OnwardNotices, settings: NotifierSettings
) -> None:
    """Tell community organisations of their onward referrals. Idempotent on the event id; a
    malformed event is set aside and the partition moves on."""

    async def on_onward(event: OnwardEvent, delivery: Delivery) -> None:
        await notices.record(event, delivery.event_id, delivery.traceparent)

    subscribe(
        broker,
        topics=settings.topics.onward,
        group_id=settings.group_id("notifier-onward"),
        message=OnwardEvent,
        description="Onward referrals: notify the organisation (its subscriptions, or e-mail "
        "with a link to the web app for a new referral, a reminder or a lapse)",
        apply=on_onward,
    )


def register_alert_consumer(
    broker: KafkaBroker, book: AlertBook, settings: NotifierSettings
) -> None:
    """Keep the router's service level alerts for coordinators. Idempotent on the event id and
    on the alert's identity; a malformed alert is set aside and the partition moves on."""

    async def on_alert(alert: AlertMessage, delivery: Delivery) -> None:
        await book.record(alert.value, delivery.event_id)

    subscribe(
        broker,
        topics=settings.topics.alerts,
        group_id=settings.group_id("notifier-alerts"),
        message=AlertMessage,
        description="Service level breaches, escalations and their resolutions, for "
        "coordinators' page and daily digest",
        apply=on_alert,
    )
