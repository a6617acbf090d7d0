"""Alembic, run the same way by every service: one schema each, its own version table inside it.

Migrations run as a separate step (`referral-hub db upgrade`, also done by `make run` and by
the test fixtures), never implicitly on service start-up.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def alembic_config(script_location: Path, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["schema"] = schema
    return config


async def upgrade(
    database_url: str, script_location: Path, schema: str, revision: str = "head"
) -> None:
    """Bring one service's schema up to `revision`."""
    engine = create_async_engine(database_url)
    try:
        await upgrade_with_engine(engine, script_location, schema, revision)
    finally:
        await engine.dispose()


async def upgrade_with_engine(
    engine: AsyncEngine, script_location: Path, schema: str, revision: str = "head"
) -> None:
    config = alembic_config(script_location, schema)

    def run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def autogenerate_revision(
    database_url: str, script_location: Path, schema: str, message: str
) -> None:
    """Write a new migration from the difference between the ORM tables and the database."""
    engine = create_async_engine(database_url)
    config = alembic_config(script_location, schema)

    def run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


def run_env(target_metadata: MetaData) -> None:
    """The body of each service's `env.py`: online migrations on the connection we were given."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `referral-hub db upgrade`, not the alembic CLI")
    schema = context.config.attributes["schema"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=True,
        # Only this service's schema is its business; the others belong to other services.
        include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
    )
    with context.begin_transaction():
        context.run_migrations()
