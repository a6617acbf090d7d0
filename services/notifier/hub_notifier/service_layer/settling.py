"""Recording finished delivery attempts together: one transaction for all that finished while
the previous one was being written, instead of one transaction (and commit) per attempt.

Nothing waits for company: a lone attempt is written at once. Under load, attempts finish
while a write is in progress and go together in the next, so the number of commits follows
the database's pace rather than the number of deliveries. Each caller still returns only once
its own attempt is committed (or learns that writing it failed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.delivery_store import Claimed


class Settles(Protocol):
    async def settle_many(self, attempts: Sequence[tuple[Claimed, Attempt]]) -> list[str]: ...


class SettleBatcher:
    def __init__(self, store: Settles) -> None:
        self._store = store
        self._waiting: list[tuple[Claimed, Attempt, asyncio.Future[str]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def settle(self, delivery: Claimed, attempt: Attempt) -> str:
        """Record the attempt; returns the delivery's new status once it is committed."""
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, attempt, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="settle deliveries")
        return await answer

    async def close(self) -> None:
        if self._writer:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                statuses = await self._store.settle_many([(d, a) for d, a, _ in batch])
            except asyncio.CancelledError:
                for *_, answer in batch:
                    answer.cancel()
                raise
            except Exception as error:
                for *_, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for (*_, answer), status in zip(batch, statuses, strict=True):
                if not answer.done():
                    answer.set_result(status)
