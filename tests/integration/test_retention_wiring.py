"""Each service, started for real (its lifespan: Kafka consumers, relay, background loops), runs
its retention sweep on the configured interval: an applied event id past its period goes, a
fresh one stays. What each sweep deletes is test_retention.py's subject; this is the wiring."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from hub_common.settings import InfraSettings
from hub_common.storage.db import processed_events_table
from hub_intake.bootstrap import build_app as intake_app
from hub_intake.config import IntakeSettings
from hub_notifier.bootstrap import build_app as notifier_app
from hub_notifier.config import NotifierSettings
from hub_router.bootstrap import build_app as router_app
from hub_router.config import RouterSettings
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

SERVICES: list[tuple[str, type[InfraSettings], Callable[[Any], FastAPI]]] = [
    ("intake", IntakeSettings, intake_app),
    ("router", RouterSettings, router_app),
    ("notifier", NotifierSettings, notifier_app),
]


@pytest.mark.parametrize(("schema", "settings_type", "build"), SERVICES)
async def test_the_service_sweeps_on_its_interval(
    stack: IsolatedStack,
    schema: str,
    settings_type: type[InfraSettings],
    build: Callable[[Any], FastAPI],
) -> None:
    table = processed_events_table(MetaData(schema=schema))
    engine = create_async_engine(stack.database_url)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(table),
            [
                {"consumer": "wiring", "event_id": "old", "processed_at": now - timedelta(90)},
                {"consumer": "wiring", "event_id": "fresh", "processed_at": now},
            ],
        )
    settings = settings_type(
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
        database_url=stack.database_url,
        topic_prefix=stack.topic_prefix,
        auth_secret=stack.auth_secret,
        retention_sweep_seconds=0.2,
    )
    app = build(settings)

    async def ids() -> set[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(select(table.c.event_id).where(table.c.consumer == "wiring"))
            return set(rows.scalars())

    try:
        async with app.router.lifespan_context(app):
            for _ in range(150):
                if await ids() == {"fresh"}:
                    break
                await asyncio.sleep(0.2)
        assert await ids() == {"fresh"}
    finally:
        await engine.dispose()
