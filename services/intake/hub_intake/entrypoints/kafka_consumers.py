"""Kafka entrypoint: every agency topic, `referrals.inbound.<source>`, in one consumer."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from hub_common import contract
from hub_common.agency_formats import inbound_sources
from hub_common.messaging.consumer import process_durably
from hub_common.messaging.envelope import TRACEPARENT, header_map
from hub_common.messaging.kafka import max_record_bytes
from hub_common.messaging.offsets import OffsetCommitter
from hub_common.messaging.subscriptions import BATCH_POLL_MS
from hub_common.observability import tracing
from hub_common.observability.metrics import MESSAGES_SET_ASIDE
from hub_common.privacy.data_protection import PUBLICATION as DATA_PROTECTION_PUBLICATION
from hub_common.security.audit import AUDIT_PUBLICATION
from hub_intake.config import IntakeSettings
from hub_intake.service_layer.commands import InboundRecord, ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService


def declare_publications(broker: KafkaBroker, settings: IntakeSettings) -> None:
    contract.declare_publications(
        broker,
        {
            settings.topics.requested: "Accepted referrals: one self-contained FHIR R4 ServiceRequest, keyed by referral id",
            settings.topics.rejected: "Refused referrals: source, referrer contact, original payload and OperationOutcome",
            settings.topics.audit: AUDIT_PUBLICATION,
            settings.topics.data_protection: DATA_PROTECTION_PUBLICATION,
            **{
                settings.topics.status(source): "Warnings of a referral accepted from this "
                "source's Kafka topic (an NHS number failing its check, say): a FHIR "
                "OperationOutcome keyed by referral id, event-type ReferralAcceptedWithWarnings; "
                "its first issue names the referral and your reference"
                for source in inbound_sources()
            },
        },
    )


def register_consumers(
    broker: KafkaBroker, service: IntakeService, settings: IntakeSettings, sources: list[str]
) -> None:
    source_of = {settings.topics.inbound(source): source for source in sources}

    # One consumer for every agency topic: a single group member, so a restart rejoins once
    # instead of once per topic. A batch at a time, in one PostgreSQL transaction. A batch's
    # offsets become committable once the handler is done with it, and it is done only once
    # the batch's referrals and outgoing events are committed; they are committed a few times
    # a second (hub_common.messaging.offsets). Redelivery after a crash is harmless: the same source +
    # referrer reference is the same referral.
    @broker.subscriber(
        *source_of,
        group_id=settings.group_id("intake"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,  # committed by `offsets` below, once durable
        batch=True,
        max_records=settings.batch_size,
        batch_timeout_ms=BATCH_POLL_MS,  # see hub_common.messaging.subscriptions
        title="intake.inbound",
        description="Referrals from every agency, each topic in its agency's own format: "
        + ", ".join(sorted(source_of))
        + f". A message's body may be at most {settings.agency_message_max_bytes} bytes "
        "(HUB_AGENCY_MESSAGE_MAX_BYTES), the same limit as intake's HTTP routes: the topics' "
        f"max.message.bytes is {max_record_bytes(settings.agency_message_max_bytes)}, room "
        "for the key and headers beside it; a larger record is refused by Kafka (the sender "
        "gets the error), a larger body that Kafka takes is refused by intake on "
        "referrals.rejected. A message naming a schema version the hub does not know is "
        "refused on referrals.rejected, naming `schema`.",
    )
    async def receive(message: KafkaMessage) -> None:
        records = (
            message.raw_message
            if isinstance(message.raw_message, tuple)
            else (message.raw_message,)
        )
        received_at = datetime.now(UTC)
        # A span per message, continuing the agency's trace when it sent one: the referral's
        # events (staged together for the whole batch) each continue their own message's.
        spans = [
            tracing.start_consumer_span(
                record.topic,
                header_map(record.headers).get(TRACEPARENT),
                partition=record.partition,
                offset=record.offset,
            )
            for record in records
        ]
        commands = [
            ReceiveReferrals(
                source=source_of[record.topic],
                body=record.value or b"",
                received_at=received_at,
                traceparent=tracing.traceparent_of(span)
                or header_map(record.headers).get(TRACEPARENT),
                inbound=InboundRecord(
                    record.topic,
                    record.partition,
                    record.offset,
                    record.key.decode("utf-8", "replace") if record.key is not None else None,
                ),
            )
            for record, span in zip(records, spans, strict=True)
        ]

        async def work() -> None:
            await service.receive_batch(commands)

        async def one_by_one(error: Exception) -> None:
            # The batch failed as a whole for a reason that is not transient (its commit
            # refused, say): take its messages one at a time so only the culprit is set aside.
            for command in commands:
                await process_durably(
                    functools.partial(_receive_alone, service, command),
                    functools.partial(_record_or_say, service, command),
                    what=f"inbound {command.source} message",
                    topic=command.inbound.topic if command.inbound else "",
                )

        # A batch may span agency topics: its retries count under its first message's.
        with tracing.spans_ended(spans):
            await process_durably(work, one_by_one, what="inbound batch", topic=records[0].topic)
        await offsets.processed(message.consumer, records)

    offsets = OffsetCommitter("intake.inbound")


async def _receive_alone(service: IntakeService, command: ReceiveReferrals) -> None:
    await service.receive_batch([command])


async def _record_or_say(
    service: IntakeService, command: ReceiveReferrals, error: Exception
) -> None:
    await service.record_unprocessable(command, type(error).__name__)
    MESSAGES_SET_ASIDE.labels(topic=command.inbound.topic if command.inbound else "").inc()
