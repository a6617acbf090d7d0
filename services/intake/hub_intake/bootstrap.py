"""The composition root of the intake service: builds everything, imports nothing at load time."""

from __future__ import annotations

from fastapi import FastAPI

from hub_common.http.service_app import service_app
from hub_common.messaging.clients import aiokafka_options, make_broker
from hub_common.messaging.on_demand import OnDemandTopics
from hub_common.messaging.outbox import OutboxRelay
from hub_common.periodic import Periodic
from hub_common.privacy.data_protection import subscribe_requests
from hub_common.privacy.retention import RetentionSweep
from hub_common.privacy.subject_access import subject_access_router
from hub_common.security.audit import AuditLog
from hub_common.storage.db import make_engine, make_session_factory
from hub_intake.adapters import orm
from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.retention_store import retention_steps
from hub_intake.adapters.subject_access_store import subject_access_collector
from hub_intake.config import IntakeSettings
from hub_intake.entrypoints.http_bars import bars_router
from hub_intake.entrypoints.http_referrals import intake_router
from hub_intake.entrypoints.kafka_consumers import declare_publications, register_consumers
from hub_intake.service_layer.data_protection import IntakeDataProtection
from hub_intake.service_layer.intake import IntakeService

OUTBOX_LOCK_KEY = 0x1A7A4E  # advisory lock: one active outbox relay per service
TOO_LARGE_ADVICE = (
    "the largest agency message the hub takes, over HTTP or Kafka; "
    "send a large housing file as several smaller ones"
)


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake service: agency HTTP routes, agency Kafka consumers, the outbox relay."""
    settings = settings or IntakeSettings()
    engine = make_engine(settings.database_url, announces_commits=True)
    relay = OutboxRelay(
        engine,
        orm.outbox,
        aiokafka_options(settings),
        lock_key=OUTBOX_LOCK_KEY,
        on_demand=OnDemandTopics.of(settings),  # the agencies' status topics
    )
    formats = registered_formats()
    sessions = make_session_factory(engine)
    service = IntakeService(
        sessions,
        formats,
        settings.topics,
        max_message_bytes=settings.agency_message_max_bytes,
    )
    broker = make_broker(settings, client_id="referral-hub-intake")
    register_consumers(broker, service, settings, list(formats))
    declare_publications(broker, settings)
    erasures = IntakeDataProtection(
        sessions,
        settings.topics,
        aiokafka_options(settings),
        group_prefix=settings.group_id(""),
    )
    subscribe_requests(
        broker,
        settings.topics,
        settings.group_id("intake-data-protection"),
        "intake",
        erasures.apply,
    )
    retention = RetentionSweep(
        settings.retention_policy, retention_steps(sessions), batch=settings.retention_batch
    )
    app = service_app(
        title="intake",
        engine=engine,
        broker=broker,
        relay=relay,
        auth_secret=settings.auth_secret,
        metrics_interval_seconds=settings.metrics_interval_seconds,
        # The same setting sizes the inbound topics (hub_common.messaging.kafka.ensure_topics).
        max_body_bytes=settings.agency_message_max_bytes,
        too_large_advice=TOO_LARGE_ADVICE,
        # Every replica sweeps; the stores claim rows with SKIP LOCKED.
        background=[
            Periodic(
                "retention sweep", retention.sweep, settings.retention_sweep_seconds, 600.0
            ).run
        ],
    )
    app.include_router(bars_router(service))
    app.include_router(subject_access_router("intake", subject_access_collector(sessions)))
    app.include_router(
        intake_router(service, settings.agency_message_max_bytes, settings.notifier_url)
    )
    # Submissions stage their entries with the referrals; the log is here for the dependency.
    app.state.audit = AuditLog("intake", sessions, orm.outbox, settings.topics)
    app.state.settings = settings
    app.state.engine = engine  # for tests serving the app without its lifespan
    app.state.service = service
    return app
