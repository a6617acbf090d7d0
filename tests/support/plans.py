"""PostgreSQL's own plan for one of the services' statements, as the tests that keep look-ups
from growing with history read it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine


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
