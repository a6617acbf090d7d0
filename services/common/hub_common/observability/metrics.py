"""Prometheus metrics of every hub service, in one place: what an operator's dashboards and
alerts (deploy/prometheus) read.

Three kinds, none of them carrying personal data (labels are topics, consumer groups,
outcomes, channels and route templates, never an id):

- Library instrumentation, not hand-rolled: FastStream's Prometheus middleware counts and
  times every consumed and published Kafka message per topic (`faststream_*`), and
  prometheus-fastapi-instrumentator times every HTTP request per route template (`http_*`).
- Domain counters (`hub_*_total`), incremented where the decision is recorded and only once
  its transaction has committed (`count_on_commit`): a rolled-back decision never counts.
- Gauges sampled on a timer (`HUB_METRICS_INTERVAL_SECONDS`), independent of the consumers so
  that they keep telling the truth while a consumer is stuck: consumer lag from the broker's
  committed offsets, outbox depth and age, and whether PostgreSQL and Kafka answer. The
  database pool is read at scrape time.

`/metrics` is served on each service's own port and, like every route, needs credentials: an
operator's token (Prometheus reads it from a file, `credentials_file`, on every scrape, so a
renewed token needs no restart). Operators see no referral content, and metrics carry none.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import Depends, FastAPI, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from hub_common.periodic import Periodic
from hub_common.security.auth import Principal, require
from hub_common.storage.on_commit import after_commit

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 15.0

# Domain counters: process-wide (the default registry), incremented by the service that
# records the decision. Each service's /metrics shows its own.
MESSAGES_RETRIED = Counter(
    "hub_messages_retried_total",
    "Attempts at a consumed message that failed transiently (PostgreSQL or Kafka away) and "
    "are retried while the message holds its partition; a batch counts under its first "
    "message's topic",
    ["topic"],
)
MESSAGES_SET_ASIDE = Counter(
    "hub_messages_refused_total",
    "Consumed messages that can never be processed, recorded and set aside so the partition "
    "moves on",
    ["topic"],
)
REFERRALS_REFUSED = Counter(
    "hub_referrals_refused_total",
    "Agency referrals refused with an OperationOutcome (on referrals.rejected), by source",
    ["source"],
)
ASSIGNMENT_DECISIONS = Counter(
    "hub_assignment_decisions_total",
    "Router decisions, by outcome: offered to a link worker, or waiting for a coordinator "
    "because no worker is eligible or the offers are used up; by what prompted the decision "
    "(referral received, offer declined, offer expired, assigned by hand, rebalanced)",
    ["outcome", "trigger"],
)
OFFERS_TIMED_OUT = Counter(
    "hub_offers_timed_out_total", "Offers that reached their deadline unanswered and moved on"
)
DELIVERIES = Counter(
    "hub_deliveries_total",
    "Notification delivery attempts (webhook or e-mail), by result: delivered, failed (to "
    "be retried) or dead (given up, waiting for an operator)",
    ["channel", "result"],
)
DEAD_LETTERS = Counter(
    "hub_dead_letters_total",
    "Notification deliveries given up after their last attempt (GET /operator/dead-letters)",
    ["channel"],
)
SLA_BREACHES = Counter(
    "hub_sla_breaches_total",
    "Service level breaches raised on hub.alerts, by rule (first contact, closure) and "
    "level (breach, escalation)",
    ["rule", "level"],
)


def count_on_commit(session: AsyncSession | Session, counter: Any, amount: float = 1) -> None:
    """Increment `counter` (a Counter or one of its labelled children) when `session`'s
    transaction commits; forget it if the transaction rolls back."""
    after_commit(session, functools.partial(counter.inc, amount))


class _Both:
    """The process-wide registry (domain counters, process and Python runtime) and one app's
    own (its broker, routes, pool and samples), read as one."""

    def __init__(self, *registries: CollectorRegistry) -> None:
        self._registries = registries

    def collect(self) -> Iterator[Metric]:
        for registry in self._registries:
            yield from registry.collect()


class PoolCollector(Collector):
    """The SQLAlchemy pool's connections in use and held, read at scrape time (cheap, no I/O)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._pool: Any = engine.sync_engine.pool

    def collect(self) -> Iterable[Metric]:
        pool = self._pool
        if not all(hasattr(pool, name) for name in ("size", "checkedout", "overflow")):
            return  # NullPool and the like keep no connections to count
        in_use = GaugeMetricFamily(
            "hub_db_pool_connections_in_use", "Database connections checked out of the pool"
        )
        in_use.add_metric([], pool.checkedout())
        size = GaugeMetricFamily(
            "hub_db_pool_size", "Connections the pool keeps (beyond them it may overflow)"
        )
        size.add_metric([], pool.size())
        overflow = GaugeMetricFamily(
            "hub_db_pool_overflow", "Connections open beyond the pool's size (negative: unused)"
        )
        overflow.add_metric([], pool.overflow())
        yield from (in_use, size, overflow)


OperatorDep = Annotated[Principal, Depends(require("operator"))]


def expose(app: FastAPI, registry: CollectorRegistry) -> None:
    """Time every route of `app` by its template, and serve `/metrics` to operators."""
    Instrumentator(
        registry=registry,
        excluded_handlers=["/metrics"],
        should_group_untemplated=True,  # an unknown path counts as "none", never itself
    ).instrument(app)
    everything = _Both(REGISTRY, registry)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(_operator: OperatorDep) -> Response:
        """Prometheus text exposition: series about the service, never about a person."""
        return Response(generate_latest(everything), media_type=CONTENT_TYPE_LATEST)


class ServiceMetrics:
    """One service's metrics: its broker's middleware, its sampled gauges and `/metrics`."""

    def __init__(
        self,
        service: str,
        engine: AsyncEngine,
        broker: KafkaBroker,
        *,
        outbox: Table | None,
        kafka: Mapping[str, Any] | None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self.registry = CollectorRegistry()
        self._engine = engine
        self._broker = broker
        self._outbox = outbox
        self._kafka = dict(kafka) if kafka is not None else None  # None: no lag sampled
        self._interval = interval_seconds
        self._checks: dict[str, Callable[[], Awaitable[bool]]] = {}
        broker.add_middleware(KafkaPrometheusMiddleware(registry=self.registry, app_name=service))
        self.registry.register(PoolCollector(engine))
        self._lag = Gauge(
            "hub_consumer_lag",
            "Messages on the topic not yet processed by the consumer group: the end of each "
            "partition less the group's committed offset, read from the broker",
            ["group", "topic"],
            registry=self.registry,
        )
        self._depth = Gauge(
            "hub_outbox_depth", "Events written but not yet published", registry=self.registry
        )
        self._age = Gauge(
            "hub_outbox_oldest_age_seconds",
            "Age of the oldest event waiting in the outbox (0 when it is empty)",
            registry=self.registry,
        )
        self._up = Gauge(
            "hub_dependency_up",
            "1 when the dependency answers (the readiness checks of /health/ready), else 0",
            ["dependency"],
            registry=self.registry,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._ends: AIOKafkaConsumer | None = None

    def readiness(self, checks: Mapping[str, Callable[[], Awaitable[bool]]]) -> None:
        """The checks /health/ready runs, sampled as `hub_dependency_up`."""
        self._checks = dict(checks)

    async def run(self) -> None:
        """Sample until cancelled; then close the Kafka clients it opened."""
        try:
            await Periodic("metrics sampler", self.sample, self._interval).run()
        finally:
            await self._close()

    async def sample(self) -> None:
        """One round; a failing part leaves the others to report."""
        for name, check in self._checks.items():
            self._up.labels(dependency=name).set(1 if await check() else 0)
        if self._outbox is not None:
            try:
                await self._sample_outbox(self._outbox)
            except Exception as error:
                log.info("outbox not sampled (%s)", type(error).__name__)
        try:
            await self._sample_lag()
        except Exception as error:
            # Unknown is not zero: no lag series rather than a reassuring one.
            self._lag.clear()
            await self._close()
            log.info("consumer lag not sampled (%s)", type(error).__name__)

    async def _sample_outbox(self, outbox: Table) -> None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(
                            func.extract("epoch", func.now() - func.min(outbox.c.created_at)), 0
                        ),
                    ).select_from(outbox)
                )
            ).one()
        self._depth.set(row[0])
        self._age.set(float(row[1]))

    def _groups(self) -> dict[str, set[str]]:
        groups: dict[str, set[str]] = {}
        for subscriber in self._broker.subscribers:
            group = getattr(subscriber, "group_id", None)
            if group:
                groups.setdefault(group, set()).update(getattr(subscriber, "topic_names", ()))
        return groups

    async def _sample_lag(self) -> None:
        groups = self._groups()
        if not groups or self._kafka is None:
            return
        admin, ends = await self._clients(self._kafka)
        topics = sorted({topic for wanted in groups.values() for topic in wanted})
        partitions = [
            TopicPartition(described["topic"], partition["partition"])
            for described in await admin.describe_topics(topics)
            if not described.get("error_code")
            for partition in described["partitions"]
        ]
        end = await ends.end_offsets(partitions)
        start = await ends.beginning_offsets(partitions)
        for group, wanted in groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            for topic in wanted:
                behind = 0
                for partition in (p for p in partitions if p.topic == topic):
                    done = committed.get(partition)
                    # Never committed: the group starts from the earliest (auto_offset_reset).
                    at = done.offset if done is not None and done.offset >= 0 else start[partition]
                    behind += max(0, end[partition] - at)
                self._lag.labels(group=group, topic=topic).set(behind)

    async def _clients(self, kafka: dict[str, Any]) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._ends is None:
            admin = AIOKafkaAdminClient(**kafka)
            ends = AIOKafkaConsumer(**kafka, group_id=None, enable_auto_commit=False)
            await admin.start()
            try:
                await ends.start()
            except BaseException:
                await admin.close()
                raise
            self._admin, self._ends = admin, ends
        return self._admin, self._ends

    async def _close(self) -> None:
        admin, ends, self._admin, self._ends = self._admin, self._ends, None, None
        with contextlib.suppress(Exception):
            if ends is not None:
                await asyncio.shield(ends.stop())
        with contextlib.suppress(Exception):
            if admin is not None:
                await asyncio.shield(admin.close())

    def expose(self, app: FastAPI) -> None:
        expose(app, self.registry)
