"""Running a service process: logging and tracing first, then uvicorn on the service's own
address; the last spans are exported on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from hub_common.observability.logs import configure_logging
from hub_common.observability.tracing import configure_tracing, shutdown_tracing


class ServedSettings(Protocol):
    http_host: str
    http_port: int
    log_level: str

    @property
    def log_format(self) -> str: ...  # read-only: the settings narrow it to json | text


S = TypeVar("S", bound=ServedSettings)

TICK_SECONDS = 1.0
"""How often an idle server wakes. uvicorn's own loop wakes ten times a second, to refresh the
`Date` header (which counts whole seconds, so once a second is enough) and to see whether it
was asked to stop; here a stop wakes it at once, so only the header is left to the clock. A
tenth of an idle service's CPU went on those wakeups (issue 18: quiet at a trickle)."""


class QuietServer(uvicorn.Server):
    """uvicorn's server, ticking once a second rather than ten times, and stopping as soon as
    it is told to (SIGTERM, SIGINT) rather than at its next tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._woken: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        # A counter of 0 makes uvicorn's tick refresh the Date header (it does so every tenth).
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):  # no task per tick, as wait_for makes
                    await self._woken.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # A signal handler runs between two bytecodes of the loop's own thread: it may only
        # hand the wakeup to the loop, never set the event itself.
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)


def serve(name: str, settings: S, build_app: Callable[[S], FastAPI]) -> None:
    """`python -m hub_<name>`: configure logging (ids only), build the app, serve it."""
    configure_logging(name, settings.log_level, settings.log_format)
    configure_tracing(name)
    # Our own log configuration stays in force: uvicorn's would print request lines with query
    # strings through a second formatter.
    # No proxy headers: uvicorn would otherwise replace the client address with X-Forwarded-For
    # whenever the connection comes from 127.0.0.1, and the audit log (hub_common.security.audit) must
    # keep the connection's real peer apart from what a header claims.
    config = uvicorn.Config(
        build_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=False,
    )
    server = QuietServer(config)
    try:
        server.run()
    finally:
        shutdown_tracing()  # the spans of the last messages handled, exported before exit
    if not server.started:
        # As `uvicorn.run` does: a service that never started (its lifespan failed, its port
        # was taken) exits non-zero, and its supervisor sees it.
        sys.exit(STARTUP_FAILURE)
