"""One batch strategy for every consumer that records many messages in one transaction.

Why one transaction: one commit (one fsync) per batch instead of one per message, and what the
batch must look up is looked up once for all of it. Why two speeds: the fast path takes the
whole batch without savepoints (two round trips fewer per message, and no one-off
`SAVEPOINT sa_savepoint_<n>` statements pushing the useful ones out of asyncpg's
prepared-statement cache). Only when a message fails part-way is the batch rolled back whole
and taken again with a savepoint per message, so the failing one rolls back alone and is set
aside (recorded as poison), and the others commit. A transient fault (database gone) propagates
at once: the caller retries the batch, and nothing was half-recorded.

The use case writes one path. The unit of work it is handed (a `BatchUnitOfWork`) keeps the
batch's look-ups and pending writes, and decides what a message's savepoint means: the nested
transaction, writing that message's pending rows inside it, and forgetting what the message
taught the look-ups when it rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.messaging.failures import is_transient
from hub_common.observability import tracing

Item = TypeVar("Item")
Result = TypeVar("Result")
Unit = TypeVar("Unit", bound="BatchUnitOfWork")

TRIES = 3
"""The fast path, then twice with savepoints (a second race with another replica is rare)."""


class BatchConflict(Exception):
    """Pending writes met a row another replica wrote meanwhile: what the batch looked up is
    out of date, so it is taken again (with savepoints), looking everything up afresh."""


class _TakeAgain(Exception):
    """A message failed in a batch without savepoints: roll back whole, take it with them."""


class BatchUnitOfWork:
    """One transaction for a batch: the session, and hooks for the batch's own state.

    Subclasses load their batch look-ups in `start` (at the start of each attempt's
    transaction), write what they deferred in `flush`
    (raising BatchConflict when a row was taken meanwhile), and say in `remember`/`forget`
    how to drop what a rolled-back message added to their in-memory state.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.savepoints = False

    @property
    def session(self) -> AsyncSession:
        return self._session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """The batch's transaction: commits after `flush` when the body succeeds."""
        async with self._sessions.begin() as session:
            self._session = session
            await self.start()
            yield
            await self.flush()

    @asynccontextmanager
    async def message(self) -> AsyncIterator[None]:
        """Around one message: nothing on the fast path; with savepoints, its own nested
        transaction holding its writes, and its traces in memory dropped if it rolls back."""
        if not self.savepoints:
            yield
            return
        # What came before (a message set aside, say) belongs to the batch, not to this one.
        await self.flush()
        mark = self.remember()
        try:
            async with self._session.begin_nested():
                yield
                await self.flush()
        except BaseException:
            self.forget(mark)
            raise

    async def start(self) -> None:
        """Look up what the whole batch needs (once, for all its messages). Nothing by default."""

    async def flush(self) -> None:
        """Write what the batch deferred (rows, outbox events). Nothing by default."""

    def remember(self) -> Any:
        """A mark of the in-memory state, to go back to if a message rolls back."""
        return None

    def forget(self, mark: Any) -> None:
        """Go back to `mark`: the message that followed it was rolled back."""


async def run_batch(
    new_unit: Callable[[], Unit],
    items: Sequence[Item],
    handle: Callable[[Unit, Item], Awaitable[Result]],
    set_aside: Callable[[Unit, Item, Exception], Awaitable[Result | Exception]],
    *,
    traceparent: Callable[[Item], str | None] = lambda _: None,
) -> list[Result | Exception]:
    """Handle every item in one transaction; returns each item's result, or what its
    `set_aside` returned for it (the error, usually, once the poison is recorded).

    `new_unit()` makes a fresh unit of work for each attempt (fresh look-ups). A non-transient error from `handle` on the fast path
    retakes the batch with savepoints; with them, the item is set aside and the batch goes on.
    The log lines written for an item carry its trace id (`traceparent`).
    """
    savepoints = False
    for _attempt in range(TRIES):
        unit = new_unit()
        unit.savepoints = savepoints
        try:
            return await _attempt_batch(unit, items, handle, set_aside, traceparent)
        except (_TakeAgain, BatchConflict):
            savepoints = True  # rolled back whole; look everything up afresh
    raise BatchConflict(f"a batch of {len(items)} met other replicas' writes {TRIES} times")


async def _attempt_batch(
    unit: Unit,
    items: Sequence[Item],
    handle: Callable[[Unit, Item], Awaitable[Result]],
    set_aside: Callable[[Unit, Item, Exception], Awaitable[Result | Exception]],
    traceparent: Callable[[Item], str | None],
) -> list[Result | Exception]:
    results: list[Result | Exception] = []
    async with unit.transaction(), tracing.PerMessage() as each:
        for item in items:
            each.enter(traceparent(item))  # its log lines carry its trace id
            try:
                async with unit.message():
                    results.append(await handle(unit, item))
            except BatchConflict:
                raise
            except Exception as error:
                if is_transient(error):
                    raise
                if not unit.savepoints:
                    raise _TakeAgain from error
                results.append(await set_aside(unit, item, error))
    return results
