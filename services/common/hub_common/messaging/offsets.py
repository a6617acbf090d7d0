"""Committing consumed offsets a few times a second instead of after every batch.

An offset only says where a consumer group resumes after a restart or a rebalance. Every hub
consumer is idempotent (an inbox of event ids, or the referral's own key), so resuming a little
before the last processed message repeats some work and loses none. Committing after every
batch cost a Kafka round trip per batch, which the next poll waited for, and a write to
`__consumer_offsets` on the broker; under a steady trickle most batches hold one message.

Only offsets of messages already processed durably are committed: a handler reports its batch
after its transaction committed (or the message was set aside), and the committer sends those
explicit offsets, never the consumer's position, which runs ahead over fetched records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

log = logging.getLogger(__name__)

COMMIT_INTERVAL_SECONDS = 0.2


class OffsetCommitter:
    """The offsets one subscriber has processed, committed at most every `interval` seconds and
    at the latest `interval` seconds after the batch that made them."""

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
