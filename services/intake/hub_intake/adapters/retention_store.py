"""Intake's share of the retention schedule (hub_common.privacy.retention): which tables, which clock.

Intake never learns when a referral closes (services share nothing but events, and intake
reads none of the router's), so its copy of a referral as received is counted from receipt.
That copy serves only to recognise a resend and to link a person's referrals into one episode;
once it is gone a new referral of the same person starts a new episode, which after the
referral period is what the schedule asks for.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.privacy.retention import RecordKind, RetentionStep
from hub_common.storage.retention_sql import deleting_step
from hub_intake.adapters import orm

# Every table of the schema and what the schedule does with it: a test holds this to the ORM,
# so a new table cannot arrive without a decision about how long it keeps what it holds.
TABLES = {
    "referrals": "referral, from receipt: deleted",
    "rejections": "rejection: deleted",
    "processed_events": "processed-event: deleted",
    "outbox": "deleted by the relay once Kafka has the event",
}


def retention_steps(sessions: async_sessionmaker[AsyncSession]) -> list[RetentionStep]:
    """Referrals as received, refused messages, applied event ids: each deleted when expired."""
    return [
        deleting_step(sessions, RecordKind.REFERRAL, orm.referrals, orm.referrals.c.received_at),
        deleting_step(sessions, RecordKind.REJECTION, orm.rejections, orm.rejections.c.received_at),
        deleting_step(
            sessions,
            RecordKind.PROCESSED_EVENT,
            orm.processed_events,
            orm.processed_events.c.processed_at,
        ),
    ]
