"""An isolated slice of the shared infrastructure for one test run: its own database (dropped
afterwards, so a dirty database never hides a migration bug) and its own topic namespace."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from hub_cli.main import service_migrations
from hub_common.messaging.clients import bootstrap_list
from hub_common.messaging.kafka import ensure_topics
from hub_common.messaging.topics import Topics
from hub_common.storage import migrations


@dataclass(frozen=True)
class IsolatedStack:
    kafka_bootstrap_servers: str
    database_url: str
    topic_prefix: str
    auth_secret: str = "test-run-secret-not-for-production"

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def env(self) -> dict[str, str]:
        """Environment for a service process pointed at this slice."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "HUB_TOPIC_PREFIX": self.topic_prefix,
            "HUB_AUTH_SECRET": self.auth_secret,
        }


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(_plain_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(_plain_dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate(database_url: str) -> None:
    for schema, location in service_migrations():
        await migrations.upgrade(database_url, location, schema)


def run_id() -> str:
    return secrets.token_hex(4)


async def prepare(
    kafka: str, server_url: str, run: str, partitions: int = 3, replication_factor: int = 1
) -> IsolatedStack:
    database_url = await create_database(server_url, f"hub_test_{run}")
    await migrate(database_url)
    stack = IsolatedStack(kafka, database_url, f"t{run}.")
    await ensure_topics(
        kafka, stack.topics, partitions=partitions, replication_factor=replication_factor
    )
    return stack


async def drop_topics(kafka: str, topics: Topics) -> None:
    """Delete a finished run's topics, so a developer's broker does not collect them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_list(kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.delete_topics([name for name in topics.all() if name in existing])
    finally:
        await admin.close()
