"""The intake service's tables, all in its own `intake` schema."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from hub_common.storage.db import outbox_table, processed_events_table

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("referrer_reference", String(200), nullable=False),
    Column("episode_id", String(64), nullable=False),
    # A one-way hash of the person's identity, to link referrals of one person from several
    # agencies without keeping a searchable copy of their NHS number or name.
    Column("person_key", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("service_request", JSONB, nullable=False),
    # `system|value` of the organisation that sent it, when verified (an HTTP credential or an
    # ODS code): another verified organisation sending the same reference from the same source
    # is refused, not taken for a resend.
    Column("sending_agency", Text, nullable=True),
    # The same referrer reference from the same source is the same referral (idempotency key).
    UniqueConstraint("source", "referrer_reference", name="uq_referrals_source_reference"),
    # A person's referrals in order, with the episode at hand: their first one is one probe.
    Index(
        "ix_referrals_person_received",
        "person_key",
        "received_at",
        postgresql_include=["episode_id"],
    ),
    # The retention sweep's expired referrals (time-ordered rows: BRIN is enough).
    Index("ix_referrals_received_brin", "received_at", postgresql_using="brin"),
)

rejections = Table(
    "rejections",
    metadata,
    Column("rejection_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("referrer_reference", String(200)),
    # sha256 of source + item + original bytes: a redelivered bad message is recorded once.
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("event", JSONB, nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
    Index("ix_rejections_received_brin", "received_at", postgresql_using="brin"),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
