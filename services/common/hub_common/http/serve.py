"""Running a service process: logging and tracing first, then uvicorn on the service's own
address; the last spans are exported on the way out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from hub_common.observability.logs import configure_logging
from hub_common.observability.tracing import configure_tracing, shutdown_tracing


class ServedSettings(Protocol):
    http_host: str
    http_port: int
    log_level: str

    @property
    def log_format(self) -> str: ...  # read-only: the settings narrow it to json | text


S = TypeVar("S", bound=ServedSettings)


def serve(name: str, settings: S, build_app: Callable[[S], FastAPI]) -> None:
    """`python -m hub_<name>`: configure logging (ids only), build the app, serve it."""
    configure_logging(name, settings.log_level, settings.log_format)
    configure_tracing(name)
    # Our own log configuration stays in force: uvicorn's would print request lines with query
    # strings through a second formatter.
    # No proxy headers: uvicorn would otherwise replace the client address with X-Forwarded-For
    # whenever the connection comes from 127.0.0.1, and the audit log (hub_common.security.audit) must
    # keep the connection's real peer apart from what a header claims.
    try:
        uvicorn.run(
            build_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            proxy_headers=False,
        )
    finally:
        shutdown_tracing()  # the spans of the last messages handled, exported before exit
