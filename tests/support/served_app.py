"""A service's app served over real HTTP inside the test's event loop, for clients that open
their own connections (fhirpy uses aiohttp, which cannot be handed an ASGI transport)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def served(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 (without its lifespan: no broker or relay, as with httpx's
    ASGITransport) and yield its base URL; fail loudly when it does not start."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()  # raises why it stopped
            raise AssertionError("the server stopped before it started")
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the server on port {port} did not start in 10 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
