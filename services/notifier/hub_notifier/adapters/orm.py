"""The notifier's tables, in its own `notifier` schema: the read side referrers query."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB

from hub_common.db import outbox_table, processed_events_table

SCHEMA = "notifier"
metadata = MetaData(schema=SCHEMA)

service_requests = Table(
    "service_requests",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("requester_org", String(200), nullable=False, index=True),  # who may read it
    Column("resource", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

tasks = Table(
    "tasks",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("business_status", String(40), nullable=False),
    Column("requester_org", String(200), nullable=False, index=True),
    Column("task", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

task_history = Table(
    "task_history",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("task", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rejections = Table(
    "rejections",
    metadata,
    Column("rejection_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("event", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
