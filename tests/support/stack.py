"""An isolated slice of the shared infrastructure for one test run: its own database (dropped
afterwards, so a dirty database never hides a migration bug) and its own topic namespace.

Inside pytest (tests/conftest.py sets REUSE_MIGRATED_TEMPLATE) the migrations run once per test
process, from scratch, into a template database, and each slice's database is a copy of it
(`CREATE DATABASE ... TEMPLATE`: a quarter of a second, where migrating took ten on a busy
machine, for every test module). Each slice still starts clean and fully migrated.
"""

from __future__ import annotations

import asyncio
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


# Set by tests/conftest.py: slices are copies of one migrated template per process (see above).
REUSE_MIGRATED_TEMPLATE = False
_templates: dict[str, str] = {}  # server URL -> this process's migrated template database
_template_lock: asyncio.Lock | None = None


async def create_database(server_url: str, name: str, template: str | None = None) -> str:
    admin = await asyncpg.connect(_plain_dsn(server_url))
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await admin.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def migrated_template(server_url: str) -> str:
    """This process's template database on `server_url`, migrated from scratch on first use."""
    global _template_lock
    _template_lock = _template_lock or asyncio.Lock()
    async with _template_lock:
        if server_url not in _templates:
            name = f"hub_template_{run_id()}"
            await migrate(await create_database(server_url, name))
            _templates[server_url] = name
    return _templates[server_url]


async def drop_templates() -> None:
    """Drop the templates this process made (the session's end)."""
    for server_url, name in list(_templates.items()):
        await drop_database(server_url, name)
        del _templates[server_url]


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
    name = f"hub_test_{run}"
    if REUSE_MIGRATED_TEMPLATE:
        template = await migrated_template(server_url)
        database_url = await create_database(server_url, name, template=template)
    else:
        database_url = await create_database(server_url, name)
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
