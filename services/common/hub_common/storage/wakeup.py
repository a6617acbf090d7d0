"""Waking a loop when its table gets work, instead of polling it every fraction of a second.

The outbox relays and the delivery worker wait for work rather than poll for it. How a commit
wakes them depends on who made it:

- **A service, in its own process** (nearly every commit): the writer kicks its own loop after
  the commit (`Wakeup.announce`). When that loop is not the one that can act on it (this
  replica's outbox relay while another replica holds the relay lock), `announce` forwards the
  kick as one NOTIFY, sent from the loop's own listening connection and coalesced while one is
  in flight. The writer's transaction sends none: a transaction that NOTIFYs holds a
  cluster-wide lock through its commit, so commits that notify queue on one another and cannot
  share a flush. With a NOTIFY in every writing transaction, p99 to notified at 100/s was
  1,244 ms, and 716 ms without (benchmarks/README.md).
- **Any other process** (a CLI command, an operator's psql): a trigger on the table
  (`notify_on_insert`, installed by each service's migration) sends a NOTIFY in the writer's
  transaction, which PostgreSQL delivers at commit, only if it commits. A service opts its own
  connections out with the session setting `hub.notify = off` (`ANNOUNCED_BY_PROCESS`, set by
  `make_engine(announces_commits=True)`), since it announces its commits itself.

A `Wakeup` keeps one LISTENing session on a connection of its own and wakes its loop at once,
in whichever replica the loop runs. Notifications are not durable: one sent while the
listening connection was down is lost. So the loop still looks now and then (the slow
fallback), and after each (re)connection it looks once at once for what was committed
meanwhile. The trigger fires once per statement, and PostgreSQL folds a transaction's repeated
notifications into one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 30.0
"""How often an idle listening connection is checked: a connection cut without a word (a
firewall's idle timeout) would otherwise leave the loop on its fallback poll for good."""


def channel_of(table: Table) -> str:
    """The NOTIFY channel of a table: its qualified name, unique in the database."""
    return channel_name(table.schema or "public", table.name)


def channel_name(schema: str, table: str) -> str:
    return f"{schema}.{table}"


NOTIFY_SETTING = "hub.notify"
ANNOUNCED_BY_PROCESS = {NOTIFY_SETTING: "off"}
"""Session settings of a service's own connections: its commits are announced by the process
(`Wakeup.announce`), so the table's trigger need not NOTIFY for them."""


def notify_function(
    schema: str, table: str, when: str = "true", *, unless_announced: bool = False
) -> str:
    """DDL for a migration: the trigger function that notifies the table's channel when the
    statement added a row matching `when` (SQL over the added rows' columns); with
    `unless_announced`, not for sessions whose `hub.notify` setting is `off` (a service that
    announces its own commits). Names, not the ORM's tables: a migration must not change when
    the ORM does."""
    function = f'"{schema}"."notify_{table}"'
    announced = (
        f"coalesce(current_setting('{NOTIFY_SETTING}', true), '') <> 'off'\n                AND "
    )
    # Built from the migration's own constants, never from input.
    return f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {announced if unless_announced else ""}EXISTS (SELECT 1 FROM added WHERE {when}) THEN
                PERFORM pg_notify('{channel_name(schema, table)}', '');
            END IF;
            RETURN NULL;
        END
        $$
        """  # noqa: S608


def notify_on_insert(schema: str, table: str, when: str = "true") -> list[str]:
    """DDL for a migration: after each INSERT statement into `schema.table` that added a row
    matching `when`, notify the table's channel (`notify_function`).

    Once per statement, not per row, and only when a matching row was added: a NOTIFY makes
    PostgreSQL serialise the commits that send one, so a batch costs one and a write the loop
    does not care about (a delivery sent through the outbox) costs none."""
    return [
        notify_function(schema, table, when),
        f"""
        CREATE TRIGGER "{table}_notify" AFTER INSERT ON "{schema}"."{table}"
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}"."notify_{table}"()
        """,
    ]


def drop_notify_on_insert(schema: str, table: str) -> list[str]:
    """The downgrade of `notify_on_insert`."""
    return [
        f'DROP TRIGGER IF EXISTS "{table}_notify" ON "{schema}"."{table}"',
        f'DROP FUNCTION IF EXISTS "{schema}"."notify_{table}"()',
    ]


SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")
"""URL options SQLAlchemy's asyncpg dialect keeps for itself rather than pass to asyncpg."""


def connect_options(engine: AsyncEngine) -> dict[str, Any]:
    """asyncpg.connect's arguments for the engine's database, as SQLAlchemy's dialect makes
    them: URL options such as `?ssl=require` (the Helm chart's) become arguments, where a DSN
    handed to asyncpg as it is would send them to PostgreSQL as settings, which it refuses."""
    _, options = engine.dialect.create_connect_args(engine.url)
    return {name: value for name, value in options.items() if name not in SQLALCHEMY_ONLY}


class Wakeup:
    """What a loop waits on between rounds: a kick from this process, a NOTIFY on its channel
    from any process, a deadline of its own (work scheduled for later), or the fallback poll.

    `engine` and `channel` None: no listening, kicks and the fallback poll only (tests with
    fakes). The loop clears the wakeup before it reads its table, so a commit landing
    during the read wakes the next wait at once instead of being lost."""

    def __init__(
        self,
        engine: AsyncEngine | None,
        channel: str | None,
        *,
        fallback_seconds: float,
        health_check_seconds: float = HEALTH_CHECK_SECONDS,
    ) -> None:
        self._connect = connect_options(engine) if engine is not None else None
        self._channel = channel
        self._fallback = fallback_seconds
        self._health_check = health_check_seconds
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection | None = None  # the listening one, while it is up
        self._talking = asyncio.Lock()  # asyncpg runs one operation at a time per connection
        self._forwarding: asyncio.Task[None] | None = None
        self._forward_again = False
        self.active = True
        """Whether this process's loop acts on what it is woken for. False for an outbox
        relay while another replica's holds the relay lock: `announce` then tells that one."""
        self.connections = 0
        """Listening connections made so far (a reconnection adds one)."""
        self.forwarded = 0
        """NOTIFYs sent on behalf of this process's writers (see `announce`)."""

    @property
    def channel(self) -> str | None:
        return self._channel

    def set(self) -> None:
        """Wake the loop (new work committed, seen in this process or notified)."""
        self._event.set()

    def announce(self) -> None:
        """A writer in this process committed work for the loop: wake it, or, when another
        replica's loop is the active one, send that one a NOTIFY. Kicks arriving while a NOTIFY
        is in flight are folded into one more, so a busy writer costs one NOTIFY per round
        trip at most, and its transactions none."""
        if self.active or self._channel is None:
            self.set()
            return
        if self._forwarding is not None:
            self._forward_again = True
            return
        self._forwarding = asyncio.get_running_loop().create_task(
            self._forward(self._channel), name=f"forward kicks on {self._channel}"
        )

    async def _forward(self, channel: str) -> None:
        try:
            while True:
                self._forward_again = False
                conn = self._conn
                if conn is None or conn.is_closed():
                    # Not listening now, so not notifying either: the active loop finds the
                    # rows at its fallback poll, and this one looks itself once it reconnects.
                    self.set()
                    return
                try:
                    async with self._talking:
                        await conn.execute("SELECT pg_notify($1, '')", channel)
                    self.forwarded += 1
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                    log.warning("cannot notify %s (%s)", channel, type(error).__name__)
                    return
                if not self._forward_again:
                    return
        finally:
            self._forwarding = None

    def clear(self) -> None:
        self._event.clear()

    async def wait(
        self, within: float | None = None, others: Collection[asyncio.Future[Any]] = ()
    ) -> None:
        """Until woken, `within` seconds (the loop's own next deadline), the fallback poll, or
        one of `others` completes, whichever comes first."""
        timeout = self._fallback if within is None else max(0.0, min(within, self._fallback))
        waiter = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait(
                [waiter, *others], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """LISTEN, reconnecting as needed, for as long as the block runs."""
        if self._connect is None or self._channel is None:
            yield
            return
        listener = asyncio.create_task(self._listen(self._connect, self._channel))
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            if self._forwarding is not None:
                self._forwarding.cancel()

    async def _listen(self, connect: dict[str, Any], channel: str) -> None:
        backoff = 0.5
        while True:
            try:
                await self._listen_once(connect, channel)
                backoff = 0.5  # it was up: the next drop reconnects quickly
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "cannot listen on %s (%s); retrying in %.1f s",
                    channel,
                    type(error).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _listen_once(self, connect: dict[str, Any], channel: str) -> None:
        """One listening connection, until it drops (returns) or fails to start (raises)."""
        conn = await asyncpg.connect(
            **connect,
            timeout=10.0,
            # Named, so an operator (or a test) can tell it from the pool's connections.
            server_settings={"application_name": f"hub wakeup {channel}"[:63]},
        )
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _conn: closed.set())
        try:
            await conn.add_listener(channel, self._notified)
            self._conn = conn
            self.connections += 1
            # Whatever was committed while nobody listened went unannounced: look once now.
            self.set()
            while not closed.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), self._health_check)
                if not closed.is_set():
                    async with self._talking:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 10.0)
            log.warning("listening connection on %s closed; reconnecting", channel)
        finally:
            self._conn = None
            if not conn.is_closed():
                conn.terminate()

    def _notified(self, *_args: object) -> None:
        self.set()
