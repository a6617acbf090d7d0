"""The composition root of the intake service: builds everything, imports nothing at load time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_common.db import make_engine, make_session_factory
from hub_common.health import database_check, health_router
from hub_common.outbox import OutboxRelay
from hub_common.topics import INBOUND_SOURCES

from hub_intake.adapters import orm
from hub_intake.adapters.formats import registered_formats
from hub_intake.config import IntakeSettings
from hub_intake.entrypoints.kafka_consumers import register_consumers
from hub_intake.service_layer.intake import IntakeService

OUTBOX_LOCK_KEY = 0x1A7A4E  # advisory lock: one active outbox relay per service


def build_broker(settings: IntakeSettings) -> KafkaBroker:
    return KafkaBroker(settings.kafka_bootstrap_servers, client_id="referral-hub-intake")


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake service as one ASGI app: HTTP routes, Kafka consumers and the outbox relay."""
    settings = settings or IntakeSettings()
    engine = make_engine(settings.database_url)
    relay = OutboxRelay(
        engine, orm.outbox, settings.kafka_bootstrap_servers, lock_key=OUTBOX_LOCK_KEY
    )
    formats = registered_formats()
    service = IntakeService(
        make_session_factory(engine), formats, settings.topics, on_commit=relay.kick
    )
    broker = build_broker(settings)
    register_consumers(broker, service, settings, [s for s in INBOUND_SOURCES if s in formats])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay_task = asyncio.create_task(relay.run(), name="intake-outbox-relay")
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
            await engine.dispose()

    app = FastAPI(title="Referral hub: intake", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.service = service
    app.state.relay = relay

    async def kafka_ready() -> bool:
        return await broker.ping(timeout=2.0)

    app.include_router(health_router({"database": database_check(engine), "kafka": kafka_ready}))
    return app
