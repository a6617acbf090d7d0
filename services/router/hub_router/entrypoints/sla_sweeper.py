"""A background loop in every replica: accepted referrals past a service level raise alerts."""

from __future__ import annotations

import asyncio
import logging

from hub_router.service_layer.sla import SlaSweep

log = logging.getLogger(__name__)


class SlaSweeper:
    """Every `interval` seconds, sweeps the timers whose deadline passed until none are left."""

    def __init__(self, sweep: SlaSweep, interval: float, batch: int = 100) -> None:
        self._sweep = sweep
        self._interval = interval
        self._batch = batch

    async def run(self) -> None:
        """Sweep until cancelled; a failed sweep (database down) is retried with backoff."""
        backoff = self._interval
        while True:
            try:
                # Replicas sweep at once safely: each claims timers with SKIP LOCKED.
                while await self._sweep.sweep(self._batch) >= self._batch:
                    pass
                backoff = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("service level sweep failed (%s); retrying", type(error).__name__)
                backoff = min(backoff * 2, 60.0)
            await asyncio.sleep(backoff)
