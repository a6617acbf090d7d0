"""Erasing one person from Kafka topics that are not compacted: delete the records up to and
including their last one, once every reader has read past it.

Kafka cannot rewrite or remove one record from the middle of a log. What it can do, at once and
on every replica, is move a partition's start forward (the DeleteRecords request): everything
before the new start is gone and no consumer can read it again. So the erasure finds, in each
partition of the topics that carry people (`referrals.inbound.<source>`, `referrals.requested`,
`referrals.rejected`), the last record about the person, and moves the start past it.

What that costs, and why it is acceptable (docs/data-protection.md, Erasure): the records of
other people before that point go too, earlier than their `event` retention. Kafka is the
hub's transport, not its record: every such record has already been read and kept by each
service that needs it (we wait until every consumer group of the hub has committed past the
point), so what is lost is only the chance to replay those days from the broker.

Finding the person: a record is theirs when its key is one of their referral ids, or when its
text, reduced to letters and digits, contains one of their identifiers (NHS number, family
name, telephone, birth date) reduced the same way, so `943 476 5919` finds `9434765919`. A
common family name matches other people too: that only moves the start further, never less
far than the person's own last record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete

log = logging.getLogger(__name__)

MIN_TERM = 4  # shorter identifiers (a two-letter family name) would match nearly everything


class ReadersBehind(OSError):
    """A consumer group has not read past the person's records yet: try again later (an OSError,
    so the consumer's retry treats it as transient and holds the request meanwhile)."""


def reduced(text: str) -> str:
    """Lower case letters and digits only: how both a record and an identifier are compared."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class Person:
    """How to recognise one person's records: their referral ids (record keys) and their
    identifiers (matched in the record's text)."""

    keys: frozenset[str]
    terms: frozenset[str]

    @classmethod
    def of(cls, keys: Iterable[str], identifiers: Iterable[str]) -> Person:
        terms = {reduced(term) for term in identifiers}
        return cls(frozenset(keys), frozenset(t for t in terms if len(t) >= MIN_TERM))

    def matches(self, key: bytes | None, value: bytes | None) -> bool:
        if key is not None and key.decode("utf-8", "replace") in self.keys:
            return True
        if not value or not self.terms:
            return False
        text = reduced(value.decode("utf-8", "replace"))
        return any(term in text for term in self.terms)


async def last_records(
    options: Mapping[str, Any], topics: Collection[str], person: Person
) -> dict[TopicPartition, int]:
    """The offset just past the person's last record in each partition that has one."""
    # Subscribed without a group: every partition assigned, with its metadata, at start.
    consumer = AIOKafkaConsumer(
        *topics, **options, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    bounds: dict[TopicPartition, int] = {}
    try:
        partitions = sorted(consumer.assignment())
        if not partitions:
            return bounds
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    if person.matches(record.key, record.value):
                        bounds[tp] = record.offset + 1
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return bounds


async def delete_before(
    options: Mapping[str, Any], bounds: Mapping[TopicPartition, int], group_prefix: str
) -> None:
    """Move each partition's start to its bound, once every consumer group whose id starts with
    `group_prefix` (the hub's) that reads the partition has committed at or past it; raises
    ReadersBehind otherwise, deleting nothing."""
    if not bounds:
        return
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        groups = [
            str(group[0])
            for group in await admin.list_consumer_groups()
            if str(group[0]).startswith(group_prefix)
        ]
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group, partitions=list(bounds))
            for tp, offset in committed.items():
                if 0 <= offset.offset < bounds[tp]:
                    raise ReadersBehind(f"group {group} has not read past {tp.topic}")
        await admin.delete_records(
            {tp: RecordsToDelete(before_offset=bound) for tp, bound in bounds.items()}
        )
    finally:
        await admin.close()
    log.info("erasure: %d partitions start after the person's last record", len(bounds))
