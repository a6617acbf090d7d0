"""PostgreSQL's own plan for one of the services' statements, as the tests that keep look-ups
from growing with history read it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.storage.db import make_engine
from tests.support.stack import IsolatedStack


@contextlib.asynccontextmanager
async def with_history(
    stack: IsolatedStack, table: str, key: str, *fills: tuple[str, dict[str, Any]]
) -> AsyncIterator[AsyncEngine]:
    """An engine on the stack's database after `fills` (INSERTs with their parameters) wrote
    a realistic history into `table` and PostgreSQL analysed it; the rows, whose `key` starts
    with `plan-`, are removed afterwards."""
    engine = make_engine(stack.database_url, pool_size=2)
    try:
        async with engine.begin() as conn:
            for statement, params in fills:
                await conn.execute(text(statement), params)
            await conn.execute(text(f"analyze {table}"))
        yield engine
        async with engine.begin() as conn:
            await conn.execute(text(f"delete from {table} where {key} like 'plan-%'"))
    finally:
        await engine.dispose()


async def explain(
    engine: AsyncEngine,
    statement: Any,
    params: dict[str, Any] | None = None,
    *,
    analyze: bool = False,
    generic: bool = False,
) -> str:
    """EXPLAIN of `statement` with `params` (its own values, a LIMIT's say, fill the rest).

    `generic` shows the plan PostgreSQL reuses for every execution of the prepared statement,
    whatever its arguments, the one asyncpg's statements settle on (PostgreSQL 15 has no
    EXPLAIN (GENERIC_PLAN)); only the lengths of list parameters matter then."""
    compiled = statement.compile(dialect=asyncpg_dialect())
    expanded = compiled.construct_expanded_state(params or {}, escape_names=False)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        if not generic:
            args = [expanded.parameters[name] for name in expanded.positiontup]
            options = "(ANALYZE) " if analyze else ""
            rows = await raw.fetch(f"EXPLAIN {options}{expanded.statement}", *args)
        else:
            nulls = ", ".join("NULL" for _ in expanded.positiontup)  # any would do
            await raw.execute("SET plan_cache_mode = force_generic_plan")
            await raw.execute(f"PREPARE probe AS {expanded.statement}")
            try:
                rows = await raw.fetch(f"EXPLAIN EXECUTE probe({nulls})")
            finally:
                await raw.execute("DEALLOCATE probe")
                await raw.execute("RESET plan_cache_mode")
    return "\n".join(row[0] for row in rows)
