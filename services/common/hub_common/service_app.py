"""The shape every hub service shares: one ASGI app running its HTTP routes, its Kafka
consumers and its outbox relay, with health endpoints that check PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

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
) -> FastAPI:
    """Start the relay and the broker with the app; stop them and release the pool after."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay_task = (
            asyncio.create_task(relay.run(), name=f"{title} outbox relay") if relay else None
        )
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            if relay_task:
                relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
            await engine.dispose()

    app = FastAPI(title=f"Referral hub: {title}", version="0.1.0", lifespan=lifespan)
    app.state.broker = broker
    app.state.auth_secret = auth_secret

    async def kafka_ready() -> bool:
        return await broker.ping(timeout=2.0)

    app.include_router(health_router({"database": database_check(engine), "kafka": kafka_ready}))
    return app
