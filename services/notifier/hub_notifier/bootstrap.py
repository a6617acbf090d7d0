"""The composition root of the notifier service."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from hub_common.db import make_engine, make_session_factory
from hub_common.service_app import service_app
from hub_notifier.config import NotifierSettings
from hub_notifier.entrypoints.kafka_consumers import register_consumers
from hub_notifier.service_layer.tracking import TrackingService


def build_app(settings: NotifierSettings | None = None) -> FastAPI:
    """The notifier: tracking consumers and (later) the referrers' read API and deliveries."""
    settings = settings or NotifierSettings()
    engine = make_engine(settings.database_url)
    service = TrackingService(make_session_factory(engine))
    broker = KafkaBroker(settings.kafka_bootstrap_servers, client_id="referral-hub-notifier")
    register_consumers(broker, service, settings)
    app = service_app(
        title="notifier", engine=engine, broker=broker, relay=None, auth_secret=settings.auth_secret
    )
    app.state.settings = settings
    app.state.service = service
    return app
