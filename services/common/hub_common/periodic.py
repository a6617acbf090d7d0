"""Background work every replica runs on a timer: offers past their deadline, service level
timers, the daily digests. One loop for all of them, so each behaves the same way: it never
dies of a failure (a database restarting), it backs off while the failures last, and it stops
only when cancelled. Replicas run it side by side safely because the work claims its rows
(SKIP LOCKED) or records what it did, never by the loop itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def drained(claim: Callable[[int], Awaitable[int]], batch: int) -> Callable[[], Awaitable[None]]:
    """Work done `batch` items at a time, claimed again until a claim comes back short."""

    async def work() -> None:
        while await claim(batch) >= batch:
            pass

    return work


class Periodic:
    """Runs `work` every `interval` seconds until cancelled; after a failure waits twice as
    long each time, up to `max_backoff` seconds, and back to `interval` once it succeeds."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        interval: float,
        max_backoff: float = 60.0,
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval
        self._max_backoff = max(max_backoff, interval)

    async def run(self) -> None:
        backoff = self._interval
        while True:
            try:
                await self._work()
                backoff = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("%s failed (%s); retrying", self._name, type(error).__name__)
                backoff = min(backoff * 2, self._max_backoff)
            await asyncio.sleep(backoff)
