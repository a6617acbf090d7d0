"""The statement every retention store is built from: delete a batch of expired rows.

Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas sweeping at once share the work and
a row a request is writing at that moment waits for the next sweep instead of blocking it.
No ORDER BY: a sweep takes any expired rows, and sorting every expired row to find the oldest
would cost more than the delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.privacy.retention import RecordKind, RetentionStep


def expired(
    table: Table,
    clock: ColumnElement[Any],
    cutoff: datetime,
    limit: int,
    *conditions: ColumnElement[bool],
    columns: Sequence[ColumnElement[Any]] | None = None,
) -> Any:
    """SELECT (the primary key, or `columns`) of up to `limit` rows whose `clock` is before
    `cutoff` and that meet `conditions`, locked for this transaction, skipping locked ones."""
    chosen = list(columns) if columns is not None else list(table.primary_key.columns)
    return (
        select(*chosen)
        .where(clock < cutoff, *conditions)
        .limit(limit)
        .with_for_update(of=table, skip_locked=True)
    )


async def delete_expired(
    session: AsyncSession,
    table: Table,
    clock: ColumnElement[Any],
    cutoff: datetime,
    limit: int,
    *conditions: ColumnElement[bool],
) -> int:
    """Delete up to `limit` expired rows of `table` in the caller's transaction; how many."""
    key = list(table.primary_key.columns)
    statement = delete(table).where(
        tuple_(*key).in_(expired(table, clock, cutoff, limit, *conditions))
    )
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


def deleting_step(
    sessions: async_sessionmaker[AsyncSession],
    kind: RecordKind,
    table: Table,
    clock: ColumnElement[Any],
    *conditions: ColumnElement[bool],
) -> RetentionStep:
    """A sweep step that deletes `table`'s rows of `kind` once `clock` is past the period,
    one batch per transaction. For tables whose rows expire each on its own clock."""

    async def purge(cutoff: datetime, limit: int) -> int:
        async with sessions.begin() as session:
            return await delete_expired(session, table, clock, cutoff, limit, *conditions)

    return RetentionStep(table.fullname, kind, purge)
