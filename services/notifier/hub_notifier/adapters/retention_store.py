"""The notifier's share of the retention schedule (hub_common.privacy.retention): the SQL that lets go.

A referral's clock starts when its Task reaches an end state: its last change, as the router
stamped it (`last_updated`, indexed; set on every row, the migration that adds the retention
indexes fills it for any row that had none). Then everything the notifier holds about it goes: the ServiceRequest (the person),
the Task and its history, the service level alerts, the finished deliveries about it, the
demographics kept to link the person's referrals and any pending pair review naming it. A
referral never routed (a ServiceRequest with no Task) counts from receipt. Refusals, finished
deliveries, the daily digest records and applied event ids expire on their own clocks.

The referrals report and the referrer's pages then simply no longer list the referral; the
coordinators' figures come from the router's anonymised Tasks (hub_router's retention store).
The append-only audit log is never swept (docs/data-protection.md says why).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.task_status import CLOSED
from hub_common.privacy.retention import RecordKind, RetentionStep
from hub_common.storage.retention_sql import deleting_step
from hub_notifier.adapters import orm

t = orm.tasks
sr = orm.service_requests
d = orm.deliveries
END_STATES = tuple(sorted(CLOSED))
FINISHED = d.c.status != "pending"  # a delivery still trying is never swept


async def forget_referrals(session: AsyncSession, ids: list[str]) -> None:
    """Delete every row about these referrals (their Task rows last)."""
    await session.execute(delete(sr).where(sr.c.referral_id.in_(ids)))
    await session.execute(delete(orm.task_history).where(orm.task_history.c.referral_id.in_(ids)))
    await session.execute(delete(orm.alerts).where(orm.alerts.c.referral_id.in_(ids)))
    await session.execute(delete(d).where(d.c.referral_id.in_(ids), FINISHED))
    # The person's demographics kept for matching, and any pair review naming the referral:
    # the person's other referrals keep their own records, so links among them survive.
    await session.execute(
        delete(orm.person_records).where(orm.person_records.c.referral_id.in_(ids))
    )
    reviews = orm.person_reviews
    await session.execute(
        delete(reviews).where(reviews.c.referral_id.in_(ids) | reviews.c.other_referral_id.in_(ids))
    )
    await session.execute(delete(t).where(t.c.referral_id.in_(ids)))


# Every table of the schema and what the schedule does with it: a test holds this to the ORM,
# so a new table cannot arrive without a decision about how long it keeps what it holds.
TABLES = {
    "service_requests": "referral, from closure (never routed: from receipt): deleted",
    "tasks": "referral: deleted",
    "task_history": "referral: deleted",
    "alerts": "referral: deleted",
    "person_records": "referral: deleted",
    "person_reviews": "referral (either referral named): deleted",
    "rejections": "rejection: deleted",
    "deliveries": "delivery (finished ones), and referral: deleted",
    "alert_digests": "delivery: deleted",
    "processed_events": "processed-event: deleted",
    "outbox": "deleted by the relay once Kafka has the event",
    "subscriptions": "an agency's configuration, no person: kept while it exists",
    "restrictions": "ids only: kept until the restriction is lifted",
    "data_protection_requests": "ids only: the record of erasures and restrictions, kept",
    "audit_log": "append-only, never swept (docs/data-protection.md, The audit log)",
}


def retention_steps(sessions: async_sessionmaker[AsyncSession]) -> list[RetentionStep]:
    """Closed referrals, unrouted ones, refusals, finished deliveries, digests, event ids."""

    async def forget_closed(cutoff: datetime, limit: int) -> int:
        async with sessions.begin() as session:
            ids = list(
                (
                    await session.execute(
                        select(t.c.referral_id)
                        .where(t.c.status.in_(END_STATES), t.c.last_updated < cutoff)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            if ids:
                await forget_referrals(session, ids)
            return len(ids)

    async def forget_unrouted(cutoff: datetime, limit: int) -> int:
        async with sessions.begin() as session:
            ids = list(
                (
                    await session.execute(
                        select(sr.c.referral_id)
                        .where(
                            sr.c.received_at < cutoff,
                            ~exists().where(t.c.referral_id == sr.c.referral_id),
                        )
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            if ids:
                await forget_referrals(session, ids)
            return len(ids)

    return [
        RetentionStep("notifier referrals (closed)", RecordKind.REFERRAL, forget_closed),
        RetentionStep("notifier referrals (never routed)", RecordKind.REFERRAL, forget_unrouted),
        deleting_step(sessions, RecordKind.REJECTION, orm.rejections, orm.rejections.c.received_at),
        deleting_step(sessions, RecordKind.DELIVERY, d, d.c.created_at, FINISHED),
        deleting_step(
            sessions, RecordKind.DELIVERY, orm.alert_digests, orm.alert_digests.c.created_at
        ),
        deleting_step(
            sessions,
            RecordKind.PROCESSED_EVENT,
            orm.processed_events,
            orm.processed_events.c.processed_at,
        ),
    ]
