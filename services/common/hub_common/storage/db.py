"""Database plumbing shared by the services: engines, and the two tables every service owns.

Each service keeps its state in its own PostgreSQL schema and shares nothing but events; the
outbox and processed-event tables below are created inside that schema by the service's
Alembic migrations.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import await_

from hub_common.storage.wakeup import ANNOUNCED_BY_PROCESS


def json_text(value: object) -> str:
    """JSONB parameters as text, by orjson: the stdlib encoder SQLAlchemy uses by default was
    a visible share of every service's CPU under load (a ServiceRequest or Task per row)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(
    database_url: str, *, pool_size: int = 10, announces_commits: bool = False
) -> AsyncEngine:
    """An asyncpg engine whose connections are checked on every checkout (`_ping`), so a
    service rides out a PostgreSQL restart and connections dropped while idle (a proxy's or
    load balancer's idle timeout).

    `announces_commits`: the engine of a service that wakes its own outbox relay and delivery
    worker after each commit (hub_common.storage.wakeup), so its transactions skip the tables'
    NOTIFY triggers and the cluster-wide lock a NOTIFY holds through the commit. Any other
    process (a CLI command) leaves it off, and its commits are announced by the triggers.

    Not checking saved about 5 % of each service's CPU under a trickle, but then the first
    statement on every dropped connection fails: a settle lost that way sends a webhook again
    after its lease, and holds up its subscription meanwhile. Not worth it."""
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        # A database error's text must never carry a referral's values into a log.
        hide_parameters=True,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": dict(ANNOUNCED_BY_PROCESS)} if announces_commits else {},
    )
    event.listen(engine.sync_engine, "connect", _mark_fresh)
    event.listen(engine.sync_engine, "checkout", _ping)
    return engine


PING_TIMEOUT_SECONDS = 10.0


def _mark_fresh(_dbapi_connection: Any, record: Any) -> None:
    record.info["fresh"] = True


def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a pooled connection with one round trip before it is handed out.

    SQLAlchemy's own `pool_pre_ping` wraps its ping in a transaction of its own for pgbouncer's
    transaction mode, which the hub does not use: BEGIN, ping, ROLLBACK, three round trips
    before every transaction, a sixth of all the statements PostgreSQL saw in a benchmark.

    A connection this checkout has just opened is not checked (as the pre-ping does not). Any
    failure replaces the connection with a new one, so it never reaches the caller as a
    strange error: on a closed connection, as after a restart, the whole pool is suspect and
    dropped; otherwise (a timeout on a half-open socket, a confused protocol state) just this
    connection is."""
    if record.info.pop("fresh", False):
        return
    connection = dbapi_connection.driver_connection
    try:
        await_(connection.execute("SELECT 1", timeout=PING_TIMEOUT_SECONDS))
    except Exception as error:
        if connection.is_closed():
            raise InvalidatePoolError("the pooled database connection is gone") from error
        raise DisconnectionError("the pooled database connection failed its check") from error


def array_parameter(
    name: str, item: type[TypeEngine[Any]] | TypeEngine[Any] = String
) -> BindParameter[Any]:
    """A parameter holding a list, sent as one PostgreSQL array: the statement's text, and so
    its prepared plan, stays the same whatever the list's length, where `IN (...)` or a VALUES
    list made a new statement for every count."""
    return bindparam(name, type_=ARRAY(item))


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def outbox_table(metadata: MetaData) -> Table:
    """Events waiting to be published, written in the same transaction as the change they report.

    `seq` orders publication; a single relay per service publishes in `seq` order, which keeps
    every referral's events in order (they share a key, so a partition).
    """
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def processed_events_table(metadata: MetaData) -> Table:
    """Ids of inbound events already applied: consumers are idempotent by checking here.

    Deduplication is on the event id (not the offset), since a relay may publish an event twice
    and a failed offset commit redelivers. The retention sweep finds expired ids by
    `processed_at` through a BRIN index: rows arrive in time order, so a few block ranges
    cover them, at almost no cost to the insert every event makes.
    """
    return Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_processed_events_processed_at", "processed_at", postgresql_using="brin"),
    )
