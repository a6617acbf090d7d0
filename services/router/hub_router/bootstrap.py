"""The composition root of the router service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from hub_common.http.service_app import service_app
from hub_common.messaging.clients import aiokafka_options, make_broker
from hub_common.messaging.outbox import OutboxRelay
from hub_common.periodic import Periodic, drained
from hub_common.privacy.retention import RetentionSweep
from hub_common.privacy.subject_access import subject_access_router
from hub_common.security.audit import AuditLog
from hub_common.storage.db import make_engine, make_session_factory
from hub_router.adapters import orm
from hub_router.adapters.retention_store import retention_steps
from hub_router.adapters.subject_access_store import subject_access_collector
from hub_router.config import RouterSettings
from hub_router.entrypoints.http_care_plans import care_plan_router, install_care_plan_errors
from hub_router.entrypoints.http_coordination import coordination_router
from hub_router.entrypoints.http_directory import directory_router, install_directory_errors
from hub_router.entrypoints.http_onward import install_onward_errors, onward_router
from hub_router.entrypoints.http_referrer import referrer_router
from hub_router.entrypoints.http_tasks import install_error_handlers, task_router
from hub_router.entrypoints.kafka_consumers import register_consumers
from hub_router.service_layer.care_planning import CarePlanning
from hub_router.service_layer.data_protection import RouterDataProtection
from hub_router.service_layer.directory import DirectoryServices
from hub_router.service_layer.onward import AnswerDeadlines, OnwardReferrals
from hub_router.service_layer.referral_changes import ReferralChanges
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.sla import SlaSweep
from hub_router.service_layer.task_progress import TaskProgress
from hub_router.service_layer.views import TaskViews

OUTBOX_LOCK_KEY = 0x7A0B0E  # advisory lock: one active outbox relay per service


def build_app(
    settings: RouterSettings | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """The router: routing and directory consumers, the Task API, the offer, service level and
    onward referral sweepers, the relay. `clock` replaces the wall clock of onward referrals
    (their deadlines and sweep), for tests."""
    settings = settings or RouterSettings()
    engine = make_engine(settings.database_url, announces_commits=True)
    relay = OutboxRelay(engine, orm.outbox, aiokafka_options(settings), lock_key=OUTBOX_LOCK_KEY)
    sessions = make_session_factory(engine)
    routing = RoutingService(
        sessions,
        settings.topics,
        max_failed_offers=settings.max_failed_offers,
        offer_timeout=settings.offer_timeout,
    )
    progress = TaskProgress(sessions, settings.topics)
    views = TaskViews(sessions)
    sla = SlaSweep(sessions, settings.topics, settings.sla_policy)
    directory = DirectoryServices(sessions)
    onward = OnwardReferrals(
        sessions,
        settings.topics,
        deadlines=AnswerDeadlines(
            settings.onward_answer_working_days, settings.onward_answer_working_days_by_service
        ),
        clock=clock or (lambda: datetime.now(UTC)),
    )
    broker = make_broker(settings, client_id="referral-hub-router")
    changes = ReferralChanges(sessions, settings.topics)
    protection = RouterDataProtection(sessions, settings.topics, routing)
    register_consumers(broker, routing, settings, directory, changes, protection)
    retention = RetentionSweep(
        settings.retention_policy, retention_steps(sessions), batch=settings.retention_batch
    )
    app = service_app(
        title="router",
        engine=engine,
        broker=broker,
        relay=relay,
        auth_secret=settings.auth_secret,
        metrics_interval_seconds=settings.metrics_interval_seconds,
        # Every replica sweeps: expired offers are claimed with SKIP LOCKED, never twice.
        # The service level sweep claims timers the same way: each breach is raised once.
        background=[
            Periodic(
                "offer sweep",
                drained(routing.expire_overdue_offers, 50),
                settings.offer_sweep_seconds,
            ).run,
            Periodic(
                "service level sweep", drained(sla.sweep, 100), settings.sla_sweep_seconds
            ).run,
            Periodic(
                "retention sweep", retention.sweep, settings.retention_sweep_seconds, 600.0
            ).run,
            # Nudges and declines unanswered onward referrals, each row under its locks.
            Periodic(
                "onward referral sweep", drained(onward.sweep, 100), settings.onward_sweep_seconds
            ).run,
        ],
    )
    app.include_router(task_router(views, routing, progress, onward))
    app.include_router(onward_router(onward))
    app.include_router(referrer_router(progress))
    app.include_router(care_plan_router(CarePlanning(sessions, settings.topics)))
    app.include_router(coordination_router(views, routing))
    app.include_router(directory_router(directory))
    app.include_router(subject_access_router("router", subject_access_collector(sessions)))
    install_error_handlers(app)
    install_directory_errors(app)
    install_care_plan_errors(app)
    install_onward_errors(app)
    app.state.audit = AuditLog("router", sessions, orm.outbox, settings.topics)
    app.state.settings = settings
    app.state.service = routing
    app.state.directory = directory
    app.state.onward = onward
    return app
