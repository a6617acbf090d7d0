"""The composition root of the notifier service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from hub_common.http.service_app import service_app
from hub_common.messaging.clients import aiokafka_options, make_broker
from hub_common.messaging.on_demand import OnDemandTopics
from hub_common.messaging.outbox import OutboxRelay
from hub_common.observability.metrics import DEAD_LETTERS
from hub_common.periodic import Periodic
from hub_common.privacy.data_protection import subscribe_requests
from hub_common.privacy.retention import RetentionSweep
from hub_common.security.audit import AuditLog
from hub_common.storage.db import make_engine, make_session_factory
from hub_common.storage.wakeup import Wakeup, channel_of
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DeliveryStore
from hub_notifier.adapters.endpoint_guard import check_public
from hub_notifier.adapters.mailer import SmtpMailer
from hub_notifier.adapters.retention_store import retention_steps
from hub_notifier.adapters.subject_access_store import subject_access_collector
from hub_notifier.adapters.webhook import HttpClient, WebhookSender
from hub_notifier.config import NotifierSettings
from hub_notifier.entrypoints.http_alerts import alerts_router
from hub_notifier.entrypoints.http_audit import audit_router
from hub_notifier.entrypoints.http_data_protection import data_protection_router
from hub_notifier.entrypoints.http_operator import operator_router
from hub_notifier.entrypoints.http_people import people_router
from hub_notifier.entrypoints.http_read import read_router
from hub_notifier.entrypoints.http_reports import report_router
from hub_notifier.entrypoints.http_subject_access import subject_access_routes
from hub_notifier.entrypoints.http_subscriptions import subscription_router
from hub_notifier.entrypoints.kafka_consumers import (
    declare_publications,
    register_alert_consumer,
    register_audit_consumer,
    register_consumers,
    register_onward_consumer,
)
from hub_notifier.service_layer.alerting import AlertBook
from hub_notifier.service_layer.audit_trail import AuditTrail
from hub_notifier.service_layer.data_protection import NotifierDataProtection
from hub_notifier.service_layer.dead_letters import DeadLetters
from hub_notifier.service_layer.delivering import DeliveryWorker
from hub_notifier.service_layer.notifying import Announcer
from hub_notifier.service_layer.onward_notices import OnwardNotices
from hub_notifier.service_layer.people import PeopleService
from hub_notifier.service_layer.reading import ReadService
from hub_notifier.service_layer.reporting import ReportService
from hub_notifier.service_layer.subject_access import SubjectFinder
from hub_notifier.service_layer.subscribing import SubscriptionService
from hub_notifier.service_layer.tracking import TrackingService

OUTBOX_LOCK_KEY = 0x4E0714  # advisory lock: one active outbox relay per service


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_app(settings: NotifierSettings | None = None) -> FastAPI:
    """The notifier: tracking consumers, the referrers' read API, subscriptions and the
    delivery worker, the outbox relay for the agencies' `referrals.status.<source>.<agency>`."""
    settings = settings or NotifierSettings()
    clock: Callable[[], datetime] = _utc_now
    engine = make_engine(settings.database_url, announces_commits=True)
    sessions = make_session_factory(engine)
    relay = OutboxRelay(
        engine,
        orm.outbox,
        aiokafka_options(settings),
        lock_key=OUTBOX_LOCK_KEY,
        on_demand=OnDemandTopics.of(settings),  # the agencies' status topics
    )
    client = HttpClient(settings.delivery_concurrency)
    worker = DeliveryWorker(
        DeliveryStore(
            engine,
            settings.retry_policy(),
            clock=clock,
            max_events_per_notification=settings.max_events_per_notification,
        ),
        WebhookSender(
            client,
            settings.delivery_timeout_seconds,
            guard=None if settings.allow_http_endpoints else check_public,
        ),
        SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            timeout_seconds=settings.delivery_timeout_seconds,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
        ),
        concurrency=settings.delivery_concurrency,
        timeout_seconds=settings.delivery_timeout_seconds,
        lease_seconds=settings.delivery_lease_seconds,
        # Woken by new deliveries from any replica (the table's NOTIFY trigger).
        wakeup=Wakeup(
            engine,
            channel_of(orm.deliveries),
            fallback_seconds=settings.delivery_poll_seconds,
        ),
    )

    async def deliver() -> None:
        try:
            await worker.run()
        finally:
            await client.aclose()

    # New deliveries wake this replica's worker at once; the outbox relay is woken by the
    # commit itself (hub_common.messaging.outbox.staged).
    committed = worker.kick

    announcer = Announcer(
        settings.topics, settings.public_url, settings.smtp_sender, clock, settings.web_url
    )
    tracking = TrackingService(sessions, announcer, on_commit=committed)
    subscriptions = SubscriptionService(
        sessions,
        settings.public_url,
        clock,
        on_commit=committed,
        rotation_grace=timedelta(hours=settings.secret_rotation_grace_hours),
    )
    dead_letters = DeadLetters(sessions, clock, on_commit=committed, topics=settings.topics)
    for channel in ("rest-hook", "email"):  # at 0 from the start, so the first one shows
        DEAD_LETTERS.labels(channel=channel)

    broker = make_broker(settings, client_id="referral-hub-notifier")
    register_consumers(broker, tracking, settings)
    trail = AuditTrail(sessions)
    register_audit_consumer(broker, trail, settings)
    register_onward_consumer(
        broker, OnwardNotices(sessions, announcer, settings.web_url, committed), settings
    )
    alerts = AlertBook(
        sessions,
        digest_to=settings.alert_digest_to,
        digest_at=settings.alert_digest_at,
        sender=settings.smtp_sender,
        link=f"{settings.public_url.rstrip('/')}/coordination/alerts",
        on_commit=worker.kick,
        clock=clock,
    )
    register_alert_consumer(broker, alerts, settings)
    protection = NotifierDataProtection(sessions, settings.topics, on_commit=committed)
    subscribe_requests(
        broker,
        settings.topics,
        settings.group_id("notifier-data-protection"),
        "notifier",
        protection.apply,
        on_applied=protection.record_applied,
    )
    declare_publications(broker, settings)
    retention = RetentionSweep(
        settings.retention_policy,
        retention_steps(sessions),
        batch=settings.retention_batch,
        clock=clock,
    )
    app = service_app(
        title="notifier",
        engine=engine,
        broker=broker,
        relay=relay,
        auth_secret=settings.auth_secret,
        metrics_interval_seconds=settings.metrics_interval_seconds,
        # Every replica checks; the digests table makes each borough's digest once a day.
        background=[
            deliver,
            Periodic(
                "alert digest check",
                alerts.send_digests,
                settings.alert_digest_check_seconds,
                max_backoff=600.0,
            ).run,
            Periodic(
                "heartbeats", subscriptions.send_heartbeats, settings.heartbeat_check_seconds
            ).run,
            # Every replica sweeps; the stores claim rows with SKIP LOCKED.
            Periodic(
                "retention sweep", retention.sweep, settings.retention_sweep_seconds, 600.0
            ).run,
        ],
    )
    app.include_router(read_router(ReadService(sessions), settings.public_url, app.version))
    app.include_router(report_router(ReportService(sessions)))
    app.include_router(
        subscription_router(
            subscriptions,
            allow_http=settings.allow_http_endpoints,
            shortest_heartbeat=settings.shortest_heartbeat_seconds,
        )
    )
    app.include_router(operator_router(dead_letters))
    app.include_router(audit_router(trail))
    app.include_router(data_protection_router(protection))
    app.include_router(alerts_router(alerts))
    app.include_router(people_router(PeopleService(sessions, settings.topics)))
    app.include_router(
        subject_access_routes(SubjectFinder(sessions), subject_access_collector(sessions))
    )
    # Reads record who saw what through the notifier's own outbox, like every service.
    app.state.audit = AuditLog("notifier", sessions, orm.outbox, settings.topics)
    app.state.settings = settings
    app.state.service = tracking
    app.state.engine = engine
    return app
