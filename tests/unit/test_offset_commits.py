"""Offsets committed a few times a second: only processed ones, never lost to a quiet moment."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from hub_common.messaging.consuming import OffsetCommitter


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


class Consumer:
    def __init__(self, fail_with: list[Exception] | None = None) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self._fail_with = fail_with or []
        self.assigned = {TopicPartition("t", 0), TopicPartition("t", 1)}

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self._fail_with:
            raise self._fail_with.pop(0)
        self.commits.append(dict(offsets))


def records(partition: int, *offsets: int) -> list[Any]:
    return [Record("t", partition, offset) for offset in offsets]


P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


async def test_the_first_batch_commits_at_once_the_next_within_the_interval() -> None:
    consumer = Consumer()
    committer = OffsetCommitter("test", interval_seconds=0.05)
    await committer.processed(consumer, records(0, 0, 1, 2))
    assert consumer.commits == [{P0: 3}]  # the next offset to read, not the last one read

    await committer.processed(consumer, records(0, 3))
    await committer.processed(consumer, records(1, 7))
    assert consumer.commits == [{P0: 3}]  # held back: too soon after the last commit
    await asyncio.sleep(0.1)
    assert consumer.commits == [{P0: 3}, {P0: 4, P1: 8}]  # nothing left behind when it goes quiet


async def test_many_batches_in_an_interval_make_one_commit() -> None:
    consumer = Consumer()
    committer = OffsetCommitter("test", interval_seconds=0.05)
    await committer.processed(consumer, records(0, 0))
    for offset in range(1, 50):
        await committer.processed(consumer, records(0, offset))
    await asyncio.sleep(0.1)
    assert consumer.commits == [{P0: 1}, {P0: 50}]


async def test_a_commit_refused_in_a_rebalance_is_dropped_not_retried() -> None:
    consumer = Consumer(fail_with=[CommitFailedError("rebalanced")])
    committer = OffsetCommitter("test", interval_seconds=0.05)
    await committer.processed(consumer, records(0, 5))
    await asyncio.sleep(0.1)
    assert consumer.commits == []  # the partition's new owner resumes from the last commit


async def test_a_commit_kafka_could_not_take_goes_with_the_next() -> None:
    consumer = Consumer(fail_with=[KafkaConnectionError()])
    committer = OffsetCommitter("test", interval_seconds=0.05)
    await committer.processed(consumer, records(0, 5))
    assert consumer.commits == []
    await asyncio.sleep(0.1)  # retried on its own, with no further traffic
    assert consumer.commits == [{P0: 6}]


async def test_a_new_consumer_does_not_commit_what_the_old_one_read() -> None:
    old, new = Consumer(), Consumer()
    committer = OffsetCommitter("test", interval_seconds=0.05)
    await committer.processed(old, records(0, 0))
    await committer.processed(old, records(0, 1))  # pending when the subscriber restarts
    await committer.processed(new, records(1, 4))
    await asyncio.sleep(0.1)
    assert old.commits == [{P0: 1}]
    assert new.commits == [{P1: 5}]


async def test_a_partition_taken_away_is_left_to_its_new_owner_the_others_commit() -> None:
    consumer = Consumer()
    committer = OffsetCommitter("test", interval_seconds=0.05)
    await committer.processed(consumer, records(0, 0))
    await committer.processed(consumer, records(0, 1) + records(1, 9))
    consumer.assigned = {P1}  # a rebalance took partition 0 away meanwhile
    await asyncio.sleep(0.1)
    assert consumer.commits == [{P0: 1}, {P1: 10}]
