"""A background loop in every replica: each borough's daily digest of open alerts, once."""

from __future__ import annotations

import asyncio
import logging

from hub_notifier.service_layer.alerting import AlertBook

log = logging.getLogger(__name__)


class DigestSender:
    """Every `interval` seconds, stages the digests due (the table makes each one once)."""

    def __init__(self, book: AlertBook, interval: float) -> None:
        self._book = book
        self._interval = interval

    async def run(self) -> None:
        """Check until cancelled; a failed check (database down) is retried with backoff."""
        backoff = self._interval
        while True:
            try:
                await self._book.send_digests()
                backoff = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("alert digest check failed (%s); retrying", type(error).__name__)
                backoff = min(backoff * 2, 600.0)
            await asyncio.sleep(backoff)
