"""Each service's Alembic migrations build exactly the tables its ORM module describes."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from hub_intake.adapters.orm import metadata as intake_metadata
from hub_notifier.adapters.orm import metadata as notifier_metadata
from hub_router.adapters.orm import metadata as router_metadata
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(
    ("schema", "metadata"),
    [("intake", intake_metadata), ("router", router_metadata), ("notifier", notifier_metadata)],
)
async def test_migrated_schema_matches_the_orm(
    stack: IsolatedStack, schema: str, metadata: MetaData
) -> None:
    engine = create_async_engine(stack.database_url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parent: type_ != "schema" or name == schema,
            },
        )
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    # alembic's own version table lives in the schema but belongs to no ORM module.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert diff == [], f"{schema}: migrations and ORM disagree; write a migration for: {diff}"
