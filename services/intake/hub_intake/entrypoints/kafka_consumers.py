"""Kafka entrypoint: every agency topic, `referrals.inbound.<source>`, in one consumer."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from hub_common import contract
from hub_common.messaging.consuming import Delivery, subscribe
from hub_common.messaging.kafka import max_record_bytes
from hub_common.messaging.messages import (
    AuditMessage,
    DataProtectionMessage,
    OperationOutcomeMessage,
    RejectedMessage,
    ServiceRequestMessage,
)
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
            settings.topics.requested: (
                "Accepted referrals: one self-contained FHIR R4 ServiceRequest, keyed by referral id",
                ServiceRequestMessage,
            ),
            settings.topics.rejected: (
                "Refused referrals: source, referrer contact, original payload and OperationOutcome",
                RejectedMessage,
            ),
            settings.topics.audit: (AUDIT_PUBLICATION, AuditMessage),
            settings.topics.data_protection: (DATA_PROTECTION_PUBLICATION, DataProtectionMessage),
            settings.topics.agency_status_address: (
                "Warnings of a referral accepted from an agency's Kafka topic (an NHS number "
                "failing its check, say), on that agency's own status topic (created when first "
                "published to): a FHIR OperationOutcome keyed by referral id, event-type "
                "ReferralAcceptedWithWarnings; its first issue names the referral and your "
                "reference",
                OperationOutcomeMessage,
            ),
        },
    )


def register_consumers(
    broker: KafkaBroker, service: IntakeService, settings: IntakeSettings, sources: list[str]
) -> None:
    source_of = {settings.topics.inbound(source): source for source in sources}

    def command(body: bytes, delivery: Delivery, received_at: datetime) -> ReceiveReferrals:
        return ReceiveReferrals(
            source=source_of[delivery.topic],
            body=body,
            received_at=received_at,
            traceparent=delivery.traceparent,
            inbound=InboundRecord(
                delivery.topic, delivery.partition, delivery.offset, delivery.key or None
            ),
        )

    async def receive(body: bytes, delivery: Delivery) -> None:
        await service.receive_batch([command(body, delivery, datetime.now(UTC))])

    async def receive_batch(batch: list[tuple[bytes, Delivery]]) -> None:
        received_at = datetime.now(UTC)
        await service.receive_batch([command(body, d, received_at) for body, d in batch])

    async def record_unprocessable(
        body: bytes | None, delivery: Delivery, error: Exception
    ) -> None:
        # Not a bad referral (those are refused on referrals.rejected by the service): one
        # that broke the batch for a reason that is not transient. Kept, to replay once fixed.
        await service.record_unprocessable(
            command(body or b"", delivery, datetime.now(UTC)), type(error).__name__
        )
        MESSAGES_SET_ASIDE.labels(topic=delivery.topic).inc()

    # One consumer for every agency topic: a single group member, so a restart rejoins once
    # instead of once per topic. A batch at a time, in one PostgreSQL transaction; if it fails
    # for a reason that is not transient, its messages are taken one at a time so only the
    # culprit is set aside. Redelivery after a crash is harmless: the same source + referrer
    # reference is the same referral.
    subscribe(
        broker,
        topics=list(source_of),
        group_id=settings.group_id("intake"),
        message=bytes,  # each agency's own format, read and checked by its reader
        apply=receive,
        apply_batch=receive_batch,
        set_aside=record_unprocessable,
        batch_size=settings.batch_size,
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
