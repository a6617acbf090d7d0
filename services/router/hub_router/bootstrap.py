"""The composition root of the router service."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from hub_common.db import make_engine, make_session_factory
from hub_common.outbox import OutboxRelay
from hub_common.service_app import service_app
from hub_router.adapters import orm
from hub_router.config import RouterSettings
from hub_router.entrypoints.kafka_consumers import register_consumers
from hub_router.service_layer.routing import RoutingService

OUTBOX_LOCK_KEY = 0x7A0B0E  # advisory lock: one active outbox relay per service


def build_app(settings: RouterSettings | None = None) -> FastAPI:
    """The router: routing consumers, the directory consumer, the outbox relay."""
    settings = settings or RouterSettings()
    engine = make_engine(settings.database_url)
    relay = OutboxRelay(
        engine, orm.outbox, settings.kafka_bootstrap_servers, lock_key=OUTBOX_LOCK_KEY
    )
    service = RoutingService(make_session_factory(engine), settings.topics, on_commit=relay.kick)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, client_id="referral-hub-router")
    register_consumers(broker, service, settings)
    app = service_app(
        title="router", engine=engine, broker=broker, relay=relay, auth_secret=settings.auth_secret
    )
    app.state.settings = settings
    app.state.service = service
    return app
