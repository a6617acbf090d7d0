"""Consuming Kafka topics the one safe way: every service's subscribers are made here.

- **Typed.** Each subscription names the type of its messages (hub_common.messaging.messages);
  a record is validated against it before the handler sees it, and one that does not fit is
  set aside naming the field it got wrong. The type is the channel's payload schema in the
  AsyncAPI document.
- **Durable.** Offsets are committed only for records whose handler has returned, and the
  handler returns only once `apply` has committed its transaction, or the record proved
  permanently bad and was set aside (hub_common.messaging.failures: transient faults are
  retried, holding the partition; poison never holds it). `apply` must be idempotent: it
  receives the envelope's event id to deduplicate on. Offsets are committed a few times a
  second rather than after every batch (`OffsetCommitter`).
- **Quiet.** A subscriber waits on the broker for records (a long poll) instead of polling
  every few milliseconds: an idle service sleeps, and a record still arrives at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import Annotated, Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from opentelemetry.trace import Span
from pydantic import SkipValidation, TypeAdapter, ValidationError

from hub_common.jsonio import loads
from hub_common.messaging.envelope import EVENT_ID, TRACEPARENT, header_map
from hub_common.messaging.failures import PermanentError, process_durably
from hub_common.observability import tracing
from hub_common.observability.metrics import MESSAGES_SET_ASIDE

log = logging.getLogger(__name__)

M = TypeVar("M")


@dataclass(frozen=True)
class Delivery:
    """What a handler may need besides the value: where the record was, its key, the event id
    and the trace."""

    key: str
    event_id: str
    traceparent: str | None
    topic: str = ""
    partition: int = 0
    offset: int = 0


Apply = Callable[[M, Delivery], Awaitable[None]]
"""Applies one message (None for a tombstone) in its own transaction; ValueError: bad input."""
ApplyBatch = Callable[[list[tuple[M, Delivery]]], Awaitable[None]]
"""Applies the decodable messages of a batch together (one transaction for the lot, say)."""
SetAside = Callable[[bytes | None, Delivery, Exception], Awaitable[None]]
"""Records a message that can never be applied (the default logs its event id and counts it)."""


def delivery_of(record: ConsumerRecord[Any, Any]) -> Delivery:
    headers = header_map(record.headers)
    key = (
        record.key.decode("utf-8", errors="replace")
        if isinstance(record.key, bytes)
        else str(record.key or "")
    )
    # Messages from outside the hub may lack an envelope: their log position identifies them.
    event_id = headers.get(EVENT_ID) or f"{record.topic}:{record.partition}:{record.offset}"
    return Delivery(
        key=key,
        event_id=event_id,
        traceparent=headers.get(TRACEPARENT),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )


POLL_WAIT_MS = 5000
"""How long an idle subscriber waits before it looks again, at each of its three levels: the
broker holds a fetch this long (`fetch_max_wait_ms`), aiokafka's background fetcher re-checks
its partitions this often (`consumer_timeout_ms`, 200 ms by default), and the subscriber's poll
waits this long on the fetcher. Each wait ends as soon as there is something to do (records
arrive, are consumed, a rebalance or a metadata update); it sets how often an idle subscriber
wakes. At 500 ms and 200 ms, the notifier's seven consumers woke it over a hundred times a
second for nothing, most of its CPU at idle (issue 18: 2.4 % of a core, 0.5 % with these
waits; the broker's wait alone back at 500 ms put the three services from 0.97 % back to
2.60 %).

One case where it does add latency: aiokafka keeps one fetch in flight per broker, and leaves
out of it the partitions whose records it holds but has not handed over yet. A record that
reaches such a partition while the handler is busy with the previous batch waits for that
fetch to end: at once if another partition of the broker gets a record, else after this long
(measured: a 200 ms handler and a second record on the same partition 50 ms after the first,
alone on the topic: 150 ms with a 500 ms wait, 150 ms or 4.4 s with 5 s). The benchmark's
trickles (5/s and 25/s) never met it, as other partitions always had records within
milliseconds; a region's quiet hours can, by a few seconds, on a referral nobody is waiting on
by the second.

Why not longer: Kafka answers one request per connection at a time, so a fetch waiting on a
quiet broker holds up the consumer's next request on that connection, such as the offsets of
partitions a rebalance just assigned or the metadata asked for after a broker died, by up to
this long (heartbeats, joins and commits go to the group coordinator on a connection of their
own). Measured against a rebalance or a broker's death (seconds of session timeout and
election), that is a few seconds more, once. Stopping does not wait for it: FastStream
cancels the poll and the consumer closes its connections. It must stay well under aiokafka's
`request_timeout_ms` (40 s), past which a waiting fetch would count as failed."""


class LongPollBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber without its sleep after an empty poll.

    FastStream sleeps `batch_timeout_ms` again after a poll that found nothing, on top of the
    poll's own wait: with a long wait, a record arriving during that sleep waited for it; with
    a short one (10 ms), every idle subscriber woke a hundred times a second. Here the poll
    alone waits, on the fetcher, which itself long-polls the broker (`fetch_max_wait_ms`)."""

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        batches = await consumer.getmany(
            timeout_ms=self.batch_timeout_ms, max_records=self.max_records
        )
        return tuple(chain.from_iterable(batches.values()))


class Decoder(Generic[M]):
    """Record value -> message of type `M`; PermanentError naming the field when it does not fit.

    `bytes` takes the value as it is (an agency's own format, which its reader checks)."""

    def __init__(self, message: type[M]) -> None:
        self._raw = message is bytes
        self._adapter: TypeAdapter[M] = TypeAdapter(message)

    def __call__(self, value: bytes | None) -> M:
        if self._raw:
            return value or b""  # type: ignore[return-value]
        if not value:
            raise PermanentError("empty value")
        try:
            # orjson, then the type: for a FHIR resource of a few kB, twice as fast as
            # pydantic's own JSON parsing, and the elements the type does not name pass as is.
            document = loads(value)
        except ValueError:
            raise PermanentError("value is not JSON") from None
        try:
            return self._adapter.validate_python(document)
        except ValidationError as error:
            raise PermanentError(_fields(error)) from None


def _fields(error: ValidationError) -> str:
    """Which fields were wrong, and how: never the values, which may be personal data."""
    issues = [
        f"{'.'.join(str(part) for part in issue['loc']) or '(message)'}: {issue['msg']}"
        for issue in error.errors(include_url=False, include_input=False)[:3]
    ]
    return "; ".join(issues)


def subscribe(
    broker: KafkaBroker,
    *,
    topics: str | Sequence[str],
    group_id: str,
    message: type[M],
    description: str,
    apply: Apply[M],
    apply_batch: ApplyBatch[M] | None = None,
    tombstones: bool = False,
    set_aside: SetAside | None = None,
    batch_size: int = 100,
    title: str | None = None,
) -> None:
    """Register a durable, idempotent consumer of `topics`, each record a `message`.

    Records arrive in batches (fewer round trips) but are applied one by one, in order, each in
    its own transaction; the batch's offsets become committable once every record in it is
    applied or set aside. With `apply_batch`, the decodable messages of a batch are handed over
    together; if that fails for a reason that is not transient, they are applied one by one, so
    only a culprit is set aside. With `tombstones`, an empty record is applied as None.
    """
    if tombstones and apply_batch is not None:
        # Records that do not decode, tombstones among them, are applied before the batch's
        # others: a delete would overtake an earlier update of the same key, and undo it.
        raise ValueError("a consumer of tombstones applies its messages one by one, in order")
    names = [topics] if isinstance(topics, str) else list(topics)
    what = title or f"{group_id}:{names[0]}"
    decode = Decoder(message)
    poison = set_aside or _log_set_aside
    offsets = OffsetCommitter(what)

    async def handle(body: Any, raw: KafkaMessage) -> None:
        # `body` is never read: its annotation (below) is the payload schema FastStream puts
        # in the AsyncAPI document; the records are decoded here, one by one, as above.
        records = raw.raw_message if isinstance(raw.raw_message, tuple) else (raw.raw_message,)
        await _apply_records(records)
        await offsets.processed(raw.consumer, records)

    handle.__annotations__ = {"body": Annotated[message, SkipValidation], "raw": KafkaMessage}

    async def one(record: ConsumerRecord[Any, Any]) -> None:
        delivery = delivery_of(record)
        with tracing.consuming(
            record.topic,
            delivery.traceparent,
            partition=record.partition,
            offset=record.offset,
            event_id=delivery.event_id,
        ) as traceparent:
            await _apply_one(record, replace(delivery, traceparent=traceparent))

    async def _apply_one(record: ConsumerRecord[Any, Any], delivery: Delivery) -> None:
        async def work() -> None:
            if not record.value and tombstones:
                await apply(None, delivery)  # type: ignore[arg-type]
                return
            value = decode(record.value)
            try:
                await apply(value, delivery)
            except ValueError as error:
                raise PermanentError(str(error)) from error

        async def poisoned(error: Exception) -> None:
            await poison(record.value, delivery, error)

        await process_durably(work, poisoned, what=f"event on {record.topic}", topic=record.topic)

    async def _apply_records(records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        if apply_batch is None:
            for record in records:
                await one(record)
            return
        decoded: list[tuple[M, Delivery]] = []
        decodable, undecodable = [], []
        spans = []  # one per message applied together, none current: each has its own trace
        for record in records:
            try:
                value = decode(record.value)
            except PermanentError:
                undecodable.append(record)
                continue
            delivery = delivery_of(record)
            span = _consumer_span(record, delivery)
            spans.append(span)
            traceparent = tracing.traceparent_of(span) or delivery.traceparent
            decoded.append((value, replace(delivery, traceparent=traceparent)))
            decodable.append(record)
        for record in undecodable:
            await one(record)  # sets it aside, naming its id and the field it got wrong
        batch_apply = apply_batch

        async def together() -> None:
            await batch_apply(decoded)

        async def one_by_one(error: Exception) -> None:
            for record in decodable:
                await one(record)

        if decoded:
            # A batch may span topics: its retries count under its first record's.
            with tracing.spans_ended(spans):
                await process_durably(
                    together, one_by_one, what=f"batch on {what}", topic=records[0].topic
                )

    subscriber = broker.subscriber(
        *names,
        group_id=group_id,
        auto_offset_reset="earliest",  # a new group must not skip the backlog
        ack_policy=AckPolicy.MANUAL,  # committed by `offsets` above, once durable
        batch=True,
        max_records=batch_size,
        batch_timeout_ms=POLL_WAIT_MS,
        fetch_max_wait_ms=POLL_WAIT_MS,
        consumer_timeout_ms=POLL_WAIT_MS,
        decoder=_undecoded,
        title=what,
        description=description,
    )
    subscriber.__class__ = LongPollBatchSubscriber  # same slots: only `get_msg` differs
    subscriber(handle)


async def _undecoded(message: Any, original: Any) -> None:
    """FastStream's own decoding of the batch, skipped: the records are decoded in `subscribe`."""
    return None


def _consumer_span(record: ConsumerRecord[Any, Any], delivery: Delivery) -> Span:
    return tracing.start_consumer_span(
        record.topic,
        delivery.traceparent,
        partition=record.partition,
        offset=record.offset,
        event_id=delivery.event_id,
    )


async def _log_set_aside(value: bytes | None, delivery: Delivery, error: Exception) -> None:
    # Hub topics are written by the hub itself: a bad event is a bug upstream. Say which event
    # (by id, never by content) and what was wrong with it, so an operator can find it.
    reason = f": {error}" if isinstance(error, PermanentError) else ""
    log.error(
        "set aside event %s on %s: %s%s",
        delivery.event_id,
        delivery.topic,
        type(error).__name__,
        reason,
    )
    MESSAGES_SET_ASIDE.labels(topic=delivery.topic).inc()


COMMIT_INTERVAL_SECONDS = 0.2


class OffsetCommitter:
    """The offsets one subscriber has processed, committed at most every `interval` seconds and
    at the latest `interval` seconds after the batch that made them.

    An offset only says where a consumer group resumes after a restart or a rebalance. Every
    hub consumer is idempotent, so resuming a little before the last processed message repeats
    some work and loses none; committing after every batch cost a Kafka round trip per batch,
    which the next poll waited for. Only offsets of records already processed durably are
    committed: a handler reports its batch after its transaction committed (or the record was
    set aside), and the committer sends those explicit offsets, never the consumer's position,
    which runs ahead over fetched records.
    """

    def __init__(self, what: str, interval_seconds: float = COMMIT_INTERVAL_SECONDS) -> None:
        self._what = what
        self._interval = interval_seconds
        self._consumer: Any = None  # the AIOKafkaConsumer the offsets were read with
        self._pending: dict[TopicPartition, int] = {}
        self._last_commit = 0.0
        self._flush: asyncio.Task[None] | None = None
        self._one_at_a_time = asyncio.Lock()  # commits land in order, offsets never go back

    async def processed(self, consumer: Any, records: Iterable[Any]) -> None:
        """Call once a batch is durable; commits now or schedules a commit shortly."""
        if consumer is not self._consumer:
            # The subscriber restarted with a new consumer: whatever the old one had not
            # committed is redelivered to the group, and deduplicated.
            self._consumer, self._pending = consumer, {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            self._pending[partition] = max(self._pending.get(partition, 0), record.offset + 1)
        wait = self._last_commit + self._interval - asyncio.get_running_loop().time()
        if wait <= 0:
            await self.commit()
        else:
            self._commit_later(wait)

    def _commit_later(self, seconds: float) -> None:
        if self._flush is None:
            self._flush = asyncio.create_task(self._commit_after(seconds), name="commit offsets")

    async def _commit_after(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            self._flush = None
        await self.commit()

    async def commit(self) -> None:
        async with self._one_at_a_time:
            if not self._pending or self._consumer is None:
                return
            # Partitions a rebalance took away are left to their new owner (it resumes from
            # the last commit and skips what was applied); committing them would fail, and
            # take the other partitions' offsets down with them.
            assigned = self._consumer.assignment()
            offsets = {p: offset for p, offset in self._pending.items() if p in assigned}
            self._pending = {}
            self._last_commit = asyncio.get_running_loop().time()
            if not offsets:
                return
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as error:  # a rebalance, as above
                log.info("%s: offsets not committed (%s)", self._what, type(error).__name__)
            except KafkaError as error:
                # Kafka unreachable for now: the next commit carries these offsets too.
                log.warning("%s: offsets not committed (%s)", self._what, type(error).__name__)
                for partition, offset in offsets.items():
                    self._pending[partition] = max(offset, self._pending.get(partition, 0))
                self._commit_later(self._interval)
