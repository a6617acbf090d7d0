"""Transactional outbox: record events with the change they describe, publish them afterwards.

A service never publishes straight from a handler. It adds rows to its `outbox` table in the
same transaction as its state change; the relay publishes committed rows with an idempotent
producer and deletes them. A crash between publish and delete republishes the same event id,
which consumers deduplicate (see `inbox.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from opentelemetry.trace import Span
from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Table,
    all_,
    any_,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub_common.jsonio import dumps
from hub_common.messaging.envelope import EVENT_ID, TRACEPARENT, Envelope
from hub_common.observability import tracing
from hub_common.storage.batch_insert import BatchTable, insert_batch
from hub_common.storage.db import array_parameter
from hub_common.storage.on_commit import after_commit
from hub_common.storage.wakeup import Wakeup, channel_of

if TYPE_CHECKING:
    from hub_common.messaging.on_demand import OnDemandTopics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingEvent:
    """One message to publish: topic, key (the referral id), serialised value and envelope."""

    topic: str
    key: str
    value: bytes
    envelope: Envelope


async def add_to_outbox(
    db: AsyncSession | AsyncConnection, outbox: Table, events: Sequence[OutgoingEvent]
) -> None:
    """Stage events in the caller's transaction. Call it last, after the rows it reports on are
    locked and written, so that a referral's later change always gets a later `seq`."""
    await insert_batch(db, [staged(db, outbox, events)])


def staged(
    db: AsyncSession | AsyncConnection, outbox: Table, events: Sequence[OutgoingEvent]
) -> tuple[BatchTable, list[dict[str, Any]]]:
    """`events` as the outbox's part of a batch write (hub_common.storage.batch_insert), and,
    when `db` is a session, this process's relay of `outbox` kicked once it commits (its
    writers' transactions send no NOTIFY: hub_common.storage.wakeup)."""
    if events and isinstance(db, AsyncSession):
        kick = functools.partial(_kick_relays, outbox.fullname)
        after_commit(db, kick, key=("kick relays", outbox.fullname))
    return outbox_columns(outbox), outbox_rows(events)


_running_relays: dict[str, set[OutboxRelay]] = {}
"""The relays running in this process, by outbox table."""


def _kick_relays(table: str) -> None:
    for relay in _running_relays.get(table, ()):
        relay.kick()


@functools.cache
def outbox_columns(outbox: Table) -> BatchTable:
    """The outbox as one of the tables a batch writes in a single statement
    (`hub_common.storage.batch_insert`): listed last, after the rows its events report on."""
    return BatchTable(outbox, ("topic", "key", "value", "headers"))


def outbox_rows(events: Sequence[OutgoingEvent]) -> list[dict[str, Any]]:
    """The events as outbox rows, in their order (which becomes their `seq` order): one
    INSERT for any number of them, unnested from one array per column."""
    return [
        {
            "topic": event.topic,
            "key": event.key,
            "value": event.value,
            "headers": dumps(dict(event.envelope.to_headers_str())),
        }
        for event in events
    ]


INITIAL_BACKOFF_SECONDS = 0.5
FALLBACK_POLL_SECONDS = 10.0
"""How often an idle relay looks at its outbox unprompted: commits wake it at once (a kick in
this process, forwarded from another replica, or a NOTIFY from any other process, see
hub_common.storage.wakeup), so this only bounds how late a row whose notification was lost
goes out."""


class OutboxRelay:
    """Publishes a service's outbox rows in order; one active relay per service at a time.

    Several replicas each run a relay, but only the holder of a PostgreSQL advisory lock
    publishes: parallel relays would reorder a referral's events. Idle, it waits for a commit
    to wake it (`kick`, from this process or forwarded by another replica; `listen`: a NOTIFY,
    from any process), or for the fallback poll.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        kafka: str | Mapping[str, Any],
        *,
        lock_key: int,
        batch_size: int = 500,
        fallback_poll_seconds: float = FALLBACK_POLL_SECONDS,
        listen: bool = True,
        on_demand: OnDemandTopics | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        # Bootstrap servers, or full aiokafka connection options with credentials
        # (hub_common.messaging.clients.aiokafka_options).
        self._kafka = {"bootstrap_servers": kafka} if isinstance(kafka, str) else dict(kafka)
        self._lock_key = lock_key
        self._batch_size = batch_size
        self._wakeup = Wakeup(
            engine if listen else None,
            channel_of(outbox) if listen else None,
            fallback_seconds=fallback_poll_seconds,
        )
        # Until it holds the relay lock, kicks from this process are forwarded to the replica
        # that does (Wakeup.announce).
        self._wakeup.active = False
        # Topics made the first time a row names one (the agencies' status topics).
        self._on_demand = on_demand
        self._acknowledged: list[int] = []  # seqs Kafka has; deleted by the next round
        self._backoff = INITIAL_BACKOFF_SECONDS
        self.published = 0

    @property
    def outbox(self) -> Table:
        return self._outbox

    @property
    def wakeup(self) -> Wakeup:
        return self._wakeup

    @property
    def kafka_options(self) -> dict[str, Any]:
        """How it connects to Kafka (the same for the service's other Kafka clients)."""
        return dict(self._kafka)

    def kick(self) -> None:
        """Tell the relay that new rows were committed in this process: it wakes, or, while
        another replica's relay holds the lock, that one is sent a NOTIFY (Wakeup.announce)."""
        self._wakeup.announce()

    async def run(self) -> None:
        """Publish until cancelled, reconnecting with backoff when Kafka or PostgreSQL fail."""
        running = _running_relays.setdefault(self._outbox.fullname, set())
        running.add(self)  # kicked by every commit in this process that stages rows
        try:
            async with self._wakeup.listening():
                await self._run()
        finally:
            running.discard(self)

    async def _run(self) -> None:
        while True:
            try:
                async with self._engine.connect() as conn:
                    # Each statement commits on its own: the relay's rounds need no transaction
                    # (see publish_batch), and the session-level lock needs none either.
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    if not await conn.scalar(select(func.pg_try_advisory_lock(self._lock_key))):
                        await asyncio.sleep(1.0)  # another replica's relay is active
                        continue
                    try:
                        await self._publish_holding_the_lock(conn)
                    finally:
                        # Closing the connection is what releases the session-level lock.
                        # Back in the pool it would keep it, and the next try, on another
                        # pooled connection, would find the relay's own lock taken.
                        with contextlib.suppress(Exception):  # it may be dead already
                            await conn.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "outbox relay interrupted (%s); retrying in %.1f s",
                    type(error).__name__,
                    self._backoff,
                )
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 10.0)

    async def _publish_holding_the_lock(self, conn: AsyncConnection) -> None:
        producer = AIOKafkaProducer(
            **self._kafka,
            enable_idempotence=True,  # implies acks=all; no duplicates from retries
            linger_ms=2,
        )
        await producer.start()
        self._backoff = INITIAL_BACKOFF_SECONDS  # connected again: the next failure waits little
        self._wakeup.active = True
        try:
            await self._publish_forever(producer, conn)
        finally:
            self._wakeup.active = False
            await producer.stop()

    async def _publish_forever(self, producer: AIOKafkaProducer, conn: AsyncConnection) -> None:
        while True:
            # Cleared before reading, not after: a commit that lands while a batch is being
            # published must wake the next round at once, not wait for the fallback poll.
            self._wakeup.clear()
            if await self.publish_batch(producer, conn):
                continue  # the next round deletes these, and there may be more
            await self._wakeup.wait()

    async def publish_batch(self, producer: AIOKafkaProducer, conn: AsyncConnection) -> int:
        """Delete what the previous round published, then publish the oldest committed rows.

        Both in one statement on the relay's own connection (the one holding the lock), in
        autocommit mode: a round costs one round trip to PostgreSQL where a transaction on a
        pooled connection cost five (ping, BEGIN, SELECT, DELETE, COMMIT). Rows stay in the
        table until Kafka has acknowledged them, so a crash in between publishes them again
        (consumers drop the repeat by event id), never loses them. Returns how many were
        published now; a round that publishes nothing still deletes the previous round's rows.
        """
        rows = (
            await conn.execute(
                _delete_then_read(self._outbox),
                {"published": self._acknowledged, "limit": self._batch_size},
            )
        ).all()
        self._acknowledged = []
        if not rows:
            return 0
        if self._on_demand is not None:
            await self._on_demand.ensure(row.topic for row in rows)
        # A producer span per event, child of the span that staged it (its row's traceparent),
        # and the parent of whatever consumes it (the header now names the producer span).
        spans = [
            tracing.start_producer_span(
                row.topic, row.headers.get(TRACEPARENT), row.headers.get(EVENT_ID)
            )
            for row in rows
        ]
        with tracing.spans_ended(spans):
            sent = [
                await producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key.encode(),
                    headers=[
                        (name, value.encode()) for name, value in _traced(row.headers, span).items()
                    ],
                )
                for row, span in zip(rows, spans, strict=True)
            ]
            await asyncio.gather(*sent)
        # Delete exactly what was read, next round: a row with a lower seq may still be
        # committing, and is read then.
        self._acknowledged = [row.seq for row in rows]
        self.published += len(rows)
        return len(rows)


def _traced(headers: dict[str, str], span: Span) -> dict[str, str]:
    """The row's headers, its traceparent naming the producer span (when spans are on)."""
    traceparent = tracing.traceparent_of(span)
    return {**headers, TRACEPARENT: traceparent} if traceparent else headers


@functools.cache
def _delete_then_read(outbox: Table) -> Select[Any]:
    published = array_parameter("published", BigInteger)
    gone = delete(outbox).where(outbox.c.seq == any_(published)).cte("gone")
    # The SELECT sees the table as it was before the DELETE, hence the explicit exclusion.
    return (
        select(outbox)
        .add_cte(gone)
        .where(outbox.c.seq != all_(published))
        .order_by(outbox.c.seq)
        .limit(bindparam("limit", type_=Integer))
    )
