"""Kafka entrypoints: one subscriber per agency topic, `referrals.inbound.<source>`."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from hub_common import contract
from hub_common.consumer import PermanentError, process_durably
from hub_common.envelope import TRACEPARENT, header_map
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.config import IntakeSettings
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService


def declare_publications(broker: KafkaBroker, settings: IntakeSettings) -> None:
    contract.declare_publications(
        broker,
        {
            settings.topics.requested: "Accepted referrals: one self-contained FHIR R4 ServiceRequest, keyed by referral id",
            settings.topics.rejected: "Refused referrals: source, referrer contact, original payload and OperationOutcome",
        },
    )


def register_consumers(
    broker: KafkaBroker, service: IntakeService, settings: IntakeSettings, sources: list[str]
) -> None:
    for source in sources:
        _register(broker, service, settings, source)


def _register(
    broker: KafkaBroker, service: IntakeService, settings: IntakeSettings, source: str
) -> None:
    topic = settings.topics.inbound(source)

    # Offsets are committed after the handler returns (AckPolicy.ACK), and the handler returns
    # only once the referral and its outgoing event are committed to PostgreSQL. Redelivery
    # after a crash is harmless: the same source + referrer reference is the same referral.
    @broker.subscriber(
        topic,
        group_id=settings.group_id("intake"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        title=f"intake.{source}",
        description=f"Referrals from {source} agencies, in their own format",
    )
    async def receive(message: KafkaMessage) -> None:
        command = ReceiveReferrals(
            source=source,
            body=message.body,
            received_at=datetime.now(UTC),
            traceparent=header_map(message.headers).get(TRACEPARENT),
        )

        async def work() -> None:
            try:
                await service.receive(command)
            except UnreadableMessage as error:
                # Already recorded and published to referrals.rejected by the service.
                raise PermanentError(str(error)) from None

        async def set_aside(error: Exception) -> None:
            # Bad input was recorded by the service already; anything else is recorded now,
            # so no message is dropped without a trace on referrals.rejected.
            if not isinstance(error, PermanentError):
                await service.record_unprocessable(command, type(error).__name__)

        await process_durably(work, set_aside, what=f"inbound {source} message")
