"""Idempotent consumption: remember which events a consumer has applied, in its own transaction."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


async def first_delivery(
    session: AsyncSession, processed: Table, consumer: str, event_id: str
) -> bool:
    """Record `event_id` as applied by `consumer`; False when it already was (a redelivery).

    Call it inside the transaction that applies the event: both commit or neither does, so a
    crash in between simply replays the event later.
    """
    result = await session.execute(
        insert(processed)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(processed.c.event_id)
    )
    return result.first() is not None
