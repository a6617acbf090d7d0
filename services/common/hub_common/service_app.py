"""The shape every hub service shares: one ASGI app running its HTTP routes, its Kafka
consumers and its outbox relay, with health endpoints that check PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.health import database_check, health_router
from hub_common.outbox import OutboxRelay


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
    app.state.broker = broker
    app.state.auth_secret = auth_secret

    async def kafka_ready() -> bool:
        return await broker.ping(timeout=2.0)

    app.include_router(health_router({"database": database_check(engine), "kafka": kafka_ready}))
    return app
