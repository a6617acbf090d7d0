"""Use-case inputs of the intake service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub_common.security.audit import AuditEntry


@dataclass(frozen=True)
class InboundRecord:
    """Where a message came from on Kafka: told back with its rejection, so the agency can
    match a refusal to what it sent even when nothing in the message could be read."""

    topic: str
    partition: int
    offset: int
    key: str | None  # the record's key, as text (undecodable bytes replaced)

    def as_json(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
        }


@dataclass(frozen=True)
class ReceiveReferrals:
    """Accept a message in an agency's format (it may hold several referrals)."""

    source: str
    body: bytes
    received_at: datetime
    traceparent: str | None = None
    agency: str | None = None  # "system|value" of the authenticated sender (HTTP); None on Kafka
    # Who submitted it over HTTP, from where: recorded with the referrals, in their transaction.
    audit: AuditEntry | None = None
    # The recorded rejection this message is replayed from (replay.py). If it is refused again
    # for the same reasons, that rejection stands: nothing new is recorded or published, so the
    # referrer is not told twice (a replayed CSV row is rebuilt as a document of its own, so
    # its fingerprint differs from the first time's).
    replay_of: str | None = None
    # POSTed to `$process-message`: the body must be a BaRS message Bundle (formats/bars.py).
    process_message: bool = False
    inbound: InboundRecord | None = None  # on Kafka: the record's topic, partition, offset, key
