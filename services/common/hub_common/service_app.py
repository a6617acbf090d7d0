"""The shape every hub service shares: one ASGI app running its HTTP routes, its Kafka
consumers and its outbox relay, with health endpoints that check PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.health import database_check, health_router
from hub_common.outbox import OutboxRelay
from hub_common.outcome import Issue, operation_outcome


def service_app(
    *,
    title: str,
    engine: AsyncEngine,
    broker: KafkaBroker,
    relay: OutboxRelay | None,
    auth_secret: str,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> FastAPI:
    """Start the relay, any `background` loops (run until cancelled, e.g. a delivery worker)
    and the broker with the app; stop them and release the pool after."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(relay.run(), name=f"{title} outbox relay")] if relay else []
        tasks += [
            asyncio.create_task(run(), name=f"{title} background {n}")
            for n, run in enumerate(background)
        ]
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await engine.dispose()

    app = FastAPI(title=f"Referral hub: {title}", version="0.1.0", lifespan=lifespan)
    app.middleware("http")(refuse_nul_characters)
    app.state.broker = broker
    app.state.auth_secret = auth_secret

    async def kafka_ready() -> bool:
        return await broker.ping(timeout=2.0)

    app.include_router(health_router({"database": database_check(engine), "kafka": kafka_ready}))
    return app


async def refuse_nul_characters(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A NUL character in the path or query can never be a valid id or filter, and PostgreSQL
    refuses it in text: answer 400 here, at the edge, instead of failing deep inside."""
    target = unquote(request.url.path) + unquote(request.url.query)
    if "\x00" in target:
        outcome = operation_outcome([Issue("(url)", "the path or query contains a NUL character")])
        return JSONResponse(outcome, status_code=400, media_type="application/fhir+json")
    return await call_next(request)
