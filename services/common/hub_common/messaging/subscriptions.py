"""Subscribing to the hub's own JSON topics the one safe way.

Offsets are committed only for messages whose handler has returned, and the handler returns
only once `apply` has committed its transaction, or the message proved permanently bad and was
set aside; they are committed a few times a second rather than after every batch (offsets.py).
`apply` must be idempotent: it receives the envelope's event id to deduplicate on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import Span

from hub_common.jsonio import loads
from hub_common.messaging.consumer import PermanentError, process_durably
from hub_common.messaging.envelope import EVENT_ID, TRACEPARENT, header_map
from hub_common.messaging.offsets import OffsetCommitter
from hub_common.observability import tracing
from hub_common.observability.metrics import MESSAGES_SET_ASIDE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a handler may need besides the value: the key, the event id and the trace."""

    key: str
    event_id: str
    traceparent: str | None


Apply = Callable[[Any, Delivery], Awaitable[None]]
ApplyBatch = Callable[[list[tuple[Any, Delivery]]], Awaitable[None]]


def delivery_of(record: ConsumerRecord[Any, Any]) -> Delivery:
    headers = header_map(record.headers)
    key = (
        record.key.decode("utf-8", errors="replace")
        if isinstance(record.key, bytes)
        else str(record.key or "")
    )
    # Messages from outside the hub may lack an envelope: their log position identifies them.
    event_id = headers.get(EVENT_ID) or f"{record.topic}:{record.partition}:{record.offset}"
    return Delivery(key=key, event_id=event_id, traceparent=headers.get(TRACEPARENT))


BATCH_POLL_MS = 10


def subscribe_json(
    broker: KafkaBroker,
    *,
    topic: str,
    group_id: str,
    description: str,
    apply: Apply,
    tombstones: bool = False,
    batch_size: int = 100,
    apply_batch: ApplyBatch | None = None,
) -> None:
    """Register a durable, idempotent JSON consumer; ValueError from `apply` means bad input.

    Messages arrive in batches (fewer round trips) but are applied one by one, in order, each
    in its own transaction; the batch's offsets become committable once every message in it is
    applied or set aside. With `apply_batch`, the decodable messages of a batch are handed
    over together (one transaction for the lot, say); if that fails for a reason that is not
    transient, they are applied one by one, so only a culprit is set aside.
    """
    if tombstones and apply_batch is not None:
        # Records that are not JSON, tombstones among them, are applied before the batch's
        # others: a delete would overtake an earlier update of the same key, and undo it.
        raise ValueError("a consumer of tombstones applies its messages one by one, in order")

    @broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",  # a new group must not skip the backlog
        ack_policy=AckPolicy.MANUAL,  # committed by `offsets` below, once durable
        batch=True,
        max_records=batch_size,
        # FastStream sleeps this long again after an empty poll (on top of the poll's own
        # wait), so at its 200 ms default a message arriving at a quiet moment waited up to
        # 400 ms per hop. A poll returns as soon as records arrive; short empty polls are cheap.
        batch_timeout_ms=BATCH_POLL_MS,
        title=f"{group_id}:{topic}",
        description=description,
    )
    async def handle(message: KafkaMessage) -> None:
        records = (
            message.raw_message
            if isinstance(message.raw_message, tuple)
            else (message.raw_message,)
        )
        await apply_records(records)
        await offsets.processed(message.consumer, records)

    offsets = OffsetCommitter(f"{group_id}:{topic}")

    async def apply_records(records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        if apply_batch is None:
            for record in records:
                await _apply_one(record, apply, topic, tombstones)
            return
        decoded: list[tuple[Any, Delivery]] = []
        undecodable = []
        spans = []  # one per message applied together, none current: each has its own trace
        for record in records:
            try:
                value = loads(record.value)
            except (TypeError, ValueError):
                undecodable.append(record)
                continue
            delivery = delivery_of(record)
            span = _consumer_span(record, delivery)
            spans.append(span)
            traceparent = tracing.traceparent_of(span) or delivery.traceparent
            decoded.append((value, replace(delivery, traceparent=traceparent)))
        for record in undecodable:
            await _apply_one(record, apply, topic, tombstones)  # sets it aside, naming its id
        batch_apply = apply_batch

        async def together() -> None:
            await batch_apply(decoded)

        async def one_by_one(error: Exception) -> None:
            for record in records:
                if record not in undecodable:
                    await _apply_one(record, apply, topic, tombstones)

        if decoded:
            with tracing.spans_ended(spans):
                await process_durably(together, one_by_one, what=f"batch on {topic}", topic=topic)


async def _apply_one(
    record: ConsumerRecord[Any, Any], apply: Apply, topic: str, tombstones: bool
) -> None:
    delivery = delivery_of(record)
    with tracing.consuming(
        record.topic,
        delivery.traceparent,
        partition=record.partition,
        offset=record.offset,
        event_id=delivery.event_id,
    ) as traceparent:
        await _apply_traced(
            record, apply, topic, tombstones, replace(delivery, traceparent=traceparent)
        )


def _consumer_span(record: ConsumerRecord[Any, Any], delivery: Delivery) -> Span:
    return tracing.start_consumer_span(
        record.topic,
        delivery.traceparent,
        partition=record.partition,
        offset=record.offset,
        event_id=delivery.event_id,
    )


async def _apply_traced(
    record: ConsumerRecord[Any, Any], apply: Apply, topic: str, tombstones: bool, delivery: Delivery
) -> None:
    async def work() -> None:
        if not record.value:
            if not tombstones:
                raise PermanentError("empty value")
            await apply(None, delivery)
            return
        try:
            value = loads(record.value)
        except ValueError:
            raise PermanentError("value is not JSON") from None
        try:
            await apply(value, delivery)
        except ValueError as error:
            raise PermanentError(str(error)) from error

    async def set_aside(error: Exception) -> None:
        # Hub topics are written by the hub itself: a bad event is a bug upstream. Say which
        # event (by id, never by content) so an operator can find it on the topic.
        log.error("set aside event %s on %s: %s", delivery.event_id, topic, type(error).__name__)
        MESSAGES_SET_ASIDE.labels(topic=topic).inc()

    await process_durably(work, set_aside, what=f"event on {topic}", topic=topic)
