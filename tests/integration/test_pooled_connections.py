"""The services' connection pool on the real database: a connection the server dropped is never
handed out, and checking one costs a single statement, not a transaction of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.storage.db import make_engine
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

POOL = 3


@pytest.fixture
async def engine(stack: IsolatedStack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.database_url, pool_size=POOL)
    yield engine
    await engine.dispose()


async def pooled_backends(engine: AsyncEngine, count: int) -> set[int]:
    """Open `count` connections at once, so the pool holds that many, and return their server
    process ids."""
    ready = asyncio.Barrier(count)

    async def backend() -> int:
        async with engine.connect() as connection:
            pid = int((await connection.execute(text("select pg_backend_pid()"))).scalar_one())
            await ready.wait()  # all checked out together: each is a connection of its own
            return pid

    return set(await asyncio.gather(*(backend() for _ in range(count))))


async def terminate(stack: IsolatedStack, pids: set[int]) -> None:
    """What an idle-timeout proxy or a database restart does to the pool's connections."""
    admin = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        await admin.execute("select pg_terminate_backend(pid) from unnest($1::int[]) pid", pids)
    finally:
        await admin.close()


async def test_a_connection_dropped_while_idle_is_replaced_before_it_is_used(
    engine: AsyncEngine, stack: IsolatedStack
) -> None:
    [dropped] = await pooled_backends(engine, 1)
    await terminate(stack, {dropped})
    async with engine.begin() as connection:
        pid = (await connection.execute(text("select pg_backend_pid()"))).scalar_one()
    assert pid != dropped


async def test_after_every_pooled_connection_is_gone_each_checkout_gets_a_live_one(
    engine: AsyncEngine, stack: IsolatedStack
) -> None:
    # As after a database restart: the pool is full of dead connections, and a burst of work
    # checks them all out at once.
    dropped = await pooled_backends(engine, POOL)
    assert len(dropped) == POOL
    await terminate(stack, dropped)
    assert (await pooled_backends(engine, POOL)).isdisjoint(dropped)


async def test_checking_a_pooled_connection_is_one_statement_outside_any_transaction(
    engine: AsyncEngine,
) -> None:
    sent: list[str] = []

    def log_statements(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda query: sent.append(query.query))

    event.listen(engine.sync_engine, "connect", log_statements)
    async with engine.connect() as connection:  # a connection of its own: not checked
        await connection.execute(text("select 1"))
    assert "SELECT 1" not in sent
    sent.clear()
    async with engine.begin() as connection:  # a checkout of the connection now pooled
        await connection.execute(text("select 2"))
    # The check, then the transaction's own BEGIN and COMMIT (asyncpg logs the statements it
    # sends as plain text, not the prepared ones): no BEGIN and ROLLBACK around the check.
    assert sent == ["SELECT 1", "BEGIN;", "COMMIT;"]
