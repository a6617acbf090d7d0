"""The router's share of the retention schedule (hub_common.privacy.retention): the SQL that lets go.

A referral's clock starts when its Task reaches an end state (completed, cancelled, failed,
rejected, entered in error: the end of care, as the Records Management Code counts). Then its
care plan, service level clock, routing explanations and onward referrals are deleted and its Task row is kept
anonymised (adapters.anonymised), so the coordinators' charts and wellbeing figures, computed
from Tasks, stay as they were. Routing explanations also expire on their own, shorter clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.privacy.retention import RecordKind, RetentionStep
from hub_common.storage.retention_sql import deleting_step
from hub_router.adapters import orm
from hub_router.adapters.anonymised import anonymised_facts, anonymised_task

t = orm.tasks
# Everything else about one referral; onward referrals carry the person (as shared with a
# community organisation), so they go with the rest.
CASE_TABLES = (orm.care_plans, orm.sla_timers, orm.decisions, orm.onward_referrals)


async def anonymise(session: AsyncSession, rows: Sequence[Any]) -> None:
    """Delete everything else about these referrals and keep their Task rows (`referral_id`,
    `task`, `facts`) with the person taken out. Also how an erasure pseudonymises them."""
    if not rows:
        return
    ids = [row.referral_id for row in rows]
    for table in CASE_TABLES:
        await session.execute(delete(table).where(table.c.referral_id.in_(ids)))
    await session.execute(
        update(t)
        .where(t.c.referral_id == bindparam("id"))
        .values(
            episode_id=bindparam("episode"),
            task=bindparam("anonymous_task"),
            facts=bindparam("anonymous_facts"),
        ),
        [
            {
                "id": row.referral_id,
                "episode": row.referral_id,
                "anonymous_task": anonymised_task(row.task, row.referral_id),
                "anonymous_facts": anonymised_facts(row.facts, row.referral_id),
            }
            for row in rows
        ],
    )


# Every table of the schema and what the schedule does with it: a test holds this to the ORM,
# so a new table cannot arrive without a decision about how long it keeps what it holds.
TABLES = {
    "tasks": "referral, from closure: anonymised",
    "care_plans": "referral: deleted",
    "sla_timers": "referral: deleted",
    "onward_referrals": "referral: deleted",
    "decisions": "routing-decision, and referral: deleted",
    "processed_events": "processed-event: deleted",
    "outbox": "deleted by the relay once Kafka has the event",
    "link_workers": "the roster: kept while current, a directory tombstone removes it",
    "directory_services": "organisations, not people: kept while in the directory",
    "directory_locations": "organisations, not people: kept while in the directory",
    "restrictions": "ids only: kept until the restriction is lifted",
    "held_referrals": "held while restricted, routed on lifting; erased with the person",
}


def retention_steps(sessions: async_sessionmaker[AsyncSession]) -> list[RetentionStep]:
    """Closed referrals anonymised, routing explanations and applied event ids deleted."""

    async def anonymise_closed(cutoff: datetime, limit: int) -> int:
        async with sessions.begin() as session:
            rows = (
                await session.execute(
                    select(t.c.referral_id, t.c.task, t.c.facts)
                    # The partial index's own predicate, word for word, so it is used.
                    .where(orm.CLOSED_NOT_ANONYMISED, t.c.updated_at < cutoff)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await anonymise(session, rows)
            return len(rows)

    return [
        RetentionStep("router.tasks (closed referrals)", RecordKind.REFERRAL, anonymise_closed),
        deleting_step(
            sessions, RecordKind.ROUTING_DECISION, orm.decisions, orm.decisions.c.decided_at
        ),
        deleting_step(
            sessions,
            RecordKind.PROCESSED_EVENT,
            orm.processed_events,
            orm.processed_events.c.processed_at,
        ),
    ]
