"""Idempotent consumption: remember which events a consumer has applied, in its own transaction."""

from __future__ import annotations

from collections.abc import Sequence

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
    return bool(await first_deliveries(session, processed, consumer, [event_id]))


async def first_deliveries(
    session: AsyncSession, processed: Table, consumer: str, event_ids: Sequence[str]
) -> set[str]:
    """`first_delivery` for a batch in one statement: the ids not applied before (each id
    once, however often it appears in `event_ids`)."""
    unique = list(dict.fromkeys(event_ids))
    if not unique:
        return set()
    result = await session.execute(
        insert(processed).on_conflict_do_nothing().returning(processed.c.event_id),
        [{"consumer": consumer, "event_id": event_id} for event_id in unique],
    )
    return set(result.scalars())
