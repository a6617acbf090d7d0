"""Helpers for router tests: a database of their own, link workers, a clock they can move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.domain.model import LinkWorker
from hub_router.service_layer.routing import RoutingService
from tests.support.infra import Infrastructure
from tests.support.stack import IsolatedStack, drop_database, prepare, run_id

ROUTER_TABLES = (
    "tasks",
    "decisions",
    "outbox",
    "processed_events",
    "link_workers",
    "sla_timers",
    "onward_referrals",
)


@asynccontextmanager
async def own_stack(infra: Infrastructure) -> AsyncIterator[IsolatedStack]:
    """A database and topic namespace for one test module alone: loads and limits are exact
    when nobody else's workers or referrals share the tables."""
    run = run_id()
    stack = await prepare(infra.kafka_bootstrap_servers, infra.database_url, run)
    try:
        yield stack
    finally:
        await drop_database(infra.database_url, f"hub_test_{run}")


async def empty_router_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(f'router.{t}' for t in ROUTER_TABLES)}"))


async def add_workers(service: RoutingService, *workers: LinkWorker) -> None:
    for worker in workers:
        await service.apply_directory_entry(
            worker.worker_id, to_practitioner_role(worker, f"Worker {worker.worker_id}", None)
        )


@dataclass
class MovableClock:
    """A clock a test moves by hand, so deadlines pass without waiting."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
