"""The one batch strategy (hub_common.messaging.batch), on a unit of work kept in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import pytest
from sqlalchemy.exc import OperationalError

from hub_common.messaging.batch import TRIES, BatchConflict, BatchUnitOfWork, run_batch


class _Nested:
    def __init__(self, unit: MemoryUnit) -> None:
        self._unit = unit

    async def __aenter__(self) -> None:
        self._unit.savepoints_opened += 1
        self._saved = list(self._unit.rows)

    async def __aexit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:  # ROLLBACK TO SAVEPOINT
            self._unit.rows[:] = self._saved


class MemoryUnit(BatchUnitOfWork):
    """Rows written at flush; `seen` is in-memory state a rolled-back message must not keep."""

    attempts: ClassVar[list[MemoryUnit]] = []

    def __init__(self, conflicts: int = 0) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.rows: list[str] = []
        self.pending: list[str] = []
        self.seen: set[str] = set()
        self.savepoints_opened = 0
        self.committed = False
        self._conflicts = conflicts
        MemoryUnit.attempts.append(self)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._session = self  # type: ignore[assignment]
        yield
        await self.flush()
        self.committed = True

    def begin_nested(self) -> _Nested:
        return _Nested(self)

    async def flush(self) -> None:
        if self.pending and self._conflicts:
            self._conflicts -= 1
            raise BatchConflict("taken meanwhile")
        self.rows += self.pending
        self.pending = []

    def remember(self) -> Any:
        return set(self.seen), len(self.pending)

    def forget(self, mark: Any) -> None:
        self.seen, pending = mark
        del self.pending[pending:]


async def _handle(unit: MemoryUnit, item: str) -> str:
    unit.seen.add(item)
    unit.pending.append(item)
    if item.startswith("poison"):
        raise ValueError(item)
    if item == "down":
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError())
    return item.upper()


async def _set_aside(unit: MemoryUnit, item: str, error: Exception) -> Exception:
    unit.pending.append(f"set aside {item}")
    return error


@pytest.fixture(autouse=True)
def _fresh() -> None:
    MemoryUnit.attempts = []


async def test_a_good_batch_is_taken_once_without_savepoints() -> None:
    results = await run_batch(MemoryUnit, ["a", "b"], _handle, _set_aside)
    assert results == ["A", "B"]
    [unit] = MemoryUnit.attempts
    assert (unit.rows, unit.savepoints_opened, unit.committed) == (["a", "b"], 0, True)


async def test_a_poison_message_is_set_aside_alone_and_the_others_commit() -> None:
    results = await run_batch(MemoryUnit, ["a", "poison", "b"], _handle, _set_aside)
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], ValueError)
    fast, slow = MemoryUnit.attempts
    assert not fast.committed and fast.savepoints_opened == 0
    assert slow.committed and slow.savepoints_opened == 3
    assert slow.rows == ["a", "set aside poison", "b"]  # the poison's own row rolled back
    assert slow.seen == {"a", "b"}  # and what it taught the batch's memory is forgotten


async def test_a_transient_fault_propagates_and_nothing_commits() -> None:
    with pytest.raises(OperationalError):
        await run_batch(MemoryUnit, ["a", "down"], _handle, _set_aside)
    [unit] = MemoryUnit.attempts
    assert not unit.committed


async def test_a_conflict_with_another_replica_retakes_the_batch_with_fresh_look_ups() -> None:
    first_only = lambda: MemoryUnit(conflicts=0 if MemoryUnit.attempts else 1)  # noqa: E731
    results = await run_batch(first_only, ["a"], _handle, _set_aside)
    assert results == ["A"]
    assert [u.committed for u in MemoryUnit.attempts] == [False, True]


async def test_conflicts_without_end_give_up_after_a_few_tries() -> None:
    with pytest.raises(BatchConflict):
        await run_batch(lambda: MemoryUnit(conflicts=99), ["a"], _handle, _set_aside)
    assert len(MemoryUnit.attempts) == TRIES
