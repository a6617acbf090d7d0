"""The in-memory transaction every fake unit of work shares (fake_intake, fake_router,
fake_notifier): a transaction works on a copy of the store's tables and copies it back whole
on commit, so a failure commits nothing; a savepoint restores the copy in place, because the
repositories of the transaction hold it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar


class _Tables(Protocol):
    commits: int


class Savepoint:
    def __init__(self, unit: Any) -> None:
        self._unit = unit

    async def __aenter__(self) -> None:
        self._saved = copy.deepcopy(self._unit.tables)

    async def __aexit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:  # ROLLBACK TO SAVEPOINT, in place: the repositories hold it
            self._unit.tables.__dict__.update(self._saved.__dict__)


class MemoryTransaction:
    """Listed first among a fake unit of work's bases: its `transaction` and `begin_nested`
    replace PostgreSQL's; the fake keeps its own `start` (repositories on `self.tables`) and
    `flush` (the staged rows and events into them)."""

    _store: Any
    tables: Any

    async def start(self) -> None:
        raise NotImplementedError

    async def flush(self) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.tables = copy.deepcopy(self._store)
        self._session = self  # begin_nested, below, as the batch strategy calls it
        await self.start()
        yield
        await self.flush()
        self.tables.commits += 1
        self._store.__dict__.update(self.tables.__dict__)

    def begin_nested(self) -> Savepoint:
        return Savepoint(self)


Unit = TypeVar("Unit")


def copy_on_commit(
    store: _Tables, make: Callable[[Any], Unit]
) -> Callable[[], AbstractAsyncContextManager[Unit]]:
    """Units of work on `store`: each commits whole (rows, then its events) or not at all."""

    @asynccontextmanager
    async def unit() -> AsyncIterator[Unit]:
        working = copy.deepcopy(store)
        uow = make(working)
        yield uow
        working.outbox.extend(uow.outgoing())  # type: ignore[attr-defined]
        working.commits += 1
        store.__dict__.update(working.__dict__)

    return unit
