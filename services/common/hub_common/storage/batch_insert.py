"""A batch's new rows, for every table it writes, in ONE statement on asyncpg's prepared path.

Why: an INSERT of a list of rows through SQLAlchemy is an executemany, which PostgreSQL counts
and runs as one statement per row (a bind and an execute each), with SQLAlchemy processing
every parameter of every row on the way; a multi-row VALUES would be a new statement text (and
plan) for every count. Here each table's rows go as one array per column, unnested by one
`INSERT … SELECT FROM unnest(…)`, and the inserts of all the tables a batch writes (its rows,
then its outbox rows) are data-modifying CTEs of a single statement: one round trip and one
prepared statement per batch, whatever its size.

The statement text is built once per set of tables and sent with `exec_driver_sql`, which
hands it to asyncpg as it is (prepared and cached per connection) inside the session's
transaction, and keeps SQLAlchemy's error wrapping, so an `IntegrityError` still means what
it meant to the callers. JSONB and array columns travel as JSON text (one orjson dump per
value) and are cast by PostgreSQL.

Rows keep the order they were listed in (`WITH ORDINALITY … ORDER BY`): the outbox's `seq`,
and so the publication order of a referral's events, follows the caller's list.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub_common.storage.db import json_text

_DIALECT = PGDialect()  # type: ignore[no-untyped-call]  # only to name column types


@dataclass(frozen=True)
class BatchTable:
    """One table a batch inserts into: which columns it fills, and what to do on a conflict
    (`on_conflict`, e.g. "ON CONFLICT ON CONSTRAINT uq DO NOTHING"; empty: raise)."""

    table: Table
    columns: tuple[str, ...]
    on_conflict: str = ""

    @property
    def name(self) -> str:
        return self.table.fullname

    def is_json(self, column: str) -> bool:
        """JSONB columns, and array columns: their values travel as JSON text (an array of
        arrays of unequal lengths is no PostgreSQL array)."""
        return isinstance(self.table.c[column].type, JSONB | ARRAY)

    def array_type(self, column: str) -> str:
        """The PostgreSQL type of the array the column's values travel in."""
        if self.is_json(column):
            return "TEXT[]"
        return f"{self._type(column)}[]"

    def selected(self, column: str) -> str:
        """The column's value from the unnested row, in the column's type."""
        if isinstance(self.table.c[column].type, ARRAY):
            return (
                f"ARRAY(SELECT jsonb_array_elements_text(u.{column}::JSONB))::{self._type(column)}"
            )
        if self.is_json(column):
            return f"u.{column}::JSONB"
        return f"u.{column}"

    def _type(self, column: str) -> str:
        return str(self.table.c[column].type.compile(dialect=_DIALECT))

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """The rows as one list per column (JSONB values as JSON text). A row may leave out a
        column (NULL, as an INSERT of that row alone would leave it: list only columns whose
        default is NULL), never name one the table does not fill here (it would be lost)."""
        known = set(self.columns)
        for row in rows:
            if unknown := row.keys() - known:
                raise ValueError(f"{self.name} is not written with {sorted(unknown)} here")
        out: list[list[Any]] = []
        for column in self.columns:
            if self.is_json(column):
                out.append([_json(row.get(column)) for row in rows])
            else:
                out.append([row.get(column) for row in rows])
        return out


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):  # already serialised (an outbox's headers, say)
        return bytes(value).decode()
    return json_text(value)


@functools.cache
def statement(tables: tuple[BatchTable, ...]) -> str:
    """`WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT count(*) of each`: the inserts run in
    the listed order's CTEs of one statement; the answer is how many rows each inserted (fewer
    than given only where `on_conflict` skipped some)."""
    parts: list[str] = []
    number = 0
    for index, table in enumerate(tables):
        arrays = []
        for column in table.columns:
            number += 1
            arrays.append(f"${number}::{table.array_type(column)}")
        names = ", ".join(table.columns)
        selected = ", ".join(table.selected(column) for column in table.columns)
        parts.append(
            # Names from the Table definitions only; every value is a parameter.
            f"w{index} AS (INSERT INTO {table.name} ({names})"  # noqa: S608
            f" SELECT {selected} FROM unnest({', '.join(arrays)})"
            f" WITH ORDINALITY AS u({names}, batch_position) ORDER BY u.batch_position"
            f" {table.on_conflict} RETURNING 1)"
        )
    counts = ", ".join(f"(SELECT count(*) FROM w{i})" for i in range(len(tables)))  # noqa: S608
    return f"WITH {', '.join(parts)} SELECT {counts}"


async def insert_batch(
    db: AsyncSession | AsyncConnection,
    writes: Sequence[tuple[BatchTable, Sequence[Mapping[str, Any]]]],
) -> list[int]:
    """Insert each table's rows, in one statement; returns how many rows each inserted. A
    table with no rows is left out of the statement (no round trip at all when none has)."""
    present = [(table, rows) for table, rows in writes if rows]
    if not present:
        return [0 for _ in writes]
    text = statement(tuple(table for table, _ in present))
    parameters = tuple(array for table, rows in present for array in table.arrays(rows))
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    result = await connection.exec_driver_sql(text, parameters)
    counts = iter(result.one())
    return [int(next(counts)) if rows else 0 for _, rows in writes]
