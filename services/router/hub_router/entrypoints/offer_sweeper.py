"""A background loop in every replica: offers left unanswered past their deadline move on."""

from __future__ import annotations

import asyncio
import logging

from hub_router.service_layer.routing import RoutingService

log = logging.getLogger(__name__)


class OfferSweeper:
    """Every `interval` seconds, hands expired offers to the service until none are left."""

    def __init__(self, service: RoutingService, interval: float, batch: int = 50) -> None:
        self._service = service
        self._interval = interval
        self._batch = batch

    async def run(self) -> None:
        """Sweep until cancelled; a failed sweep (database down) is retried with backoff."""
        backoff = self._interval
        while True:
            try:
                # Several replicas sweep at once safely: each claims rows with SKIP LOCKED.
                while await self._service.expire_overdue_offers(self._batch) >= self._batch:
                    pass
                backoff = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("offer sweep failed (%s); retrying", type(error).__name__)
                backoff = min(backoff * 2, 60.0)
            await asyncio.sleep(backoff)
