"""Waking on work (hub_common.storage.wakeup) without a database: what the trigger sends, how
long a wait lasts, and that the idle delivery worker sleeps until its next delivery is due.
The LISTEN side is proved on the real database in tests/integration/test_wakeup.py."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Integer, MetaData, Table

from hub_common.storage.db import make_engine
from hub_common.storage.wakeup import (
    Wakeup,
    channel_of,
    connect_options,
    drop_notify_on_insert,
    notify_function,
    notify_on_insert,
)
from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.delivery_store import Claimed
from hub_notifier.service_layer.delivering import BUSY_RECHECK_SECONDS, DeliveryWorker


def test_the_trigger_notifies_the_tables_channel_once_per_statement_when_a_row_matches() -> None:
    table = Table("deliveries", MetaData(schema="notifier"), Column("seq", Integer))
    function, trigger = notify_on_insert("notifier", "deliveries", "channel = 'email'")
    assert channel_of(table) == "notifier.deliveries"
    assert "pg_notify('notifier.deliveries', '')" in function
    assert "SELECT 1 FROM added WHERE channel = 'email'" in function
    assert 'AFTER INSERT ON "notifier"."deliveries"' in trigger
    assert "REFERENCING NEW TABLE AS added" in trigger
    assert "FOR EACH STATEMENT" in trigger
    dropped = drop_notify_on_insert("notifier", "deliveries")
    assert dropped[0].startswith('DROP TRIGGER IF EXISTS "deliveries_notify"')


def test_the_gated_trigger_stays_silent_for_a_service_announcing_its_own_commits() -> None:
    function = notify_function("router", "outbox", unless_announced=True)
    assert "coalesce(current_setting('hub.notify', true), '') <> 'off'" in function
    assert "pg_notify('router.outbox', '')" in function
    assert function.strip().startswith('CREATE OR REPLACE FUNCTION "router"."notify_outbox"()')


class Listening:
    """A listening connection that records the NOTIFYs sent on it, each taking `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.sent: list[tuple[str, ...]] = []
        self._seconds = seconds

    def is_closed(self) -> bool:
        return False

    async def execute(self, statement: str, *args: str) -> str:
        self.sent.append(args)
        await asyncio.sleep(self._seconds)
        return "SELECT 1"


async def test_announce_wakes_the_active_loop_and_forwards_a_burst_as_few_notifies() -> None:
    wakeup = Wakeup(None, "router.outbox", fallback_seconds=30.0)
    wakeup.announce()  # active: this process's loop wakes, nothing is sent
    assert await waited(wakeup) < 0.01

    wakeup.clear()
    wakeup.active = False  # another replica holds the relay lock
    listening = Listening(seconds=0.02)
    wakeup._conn = listening  # type: ignore[assignment]
    for _ in range(5):  # a burst of commits: one NOTIFY tells of them all
        wakeup.announce()
    await asyncio.sleep(0.005)
    for _ in range(3):  # more while it is in flight: one more after it
        wakeup.announce()
    await asyncio.sleep(0.1)
    assert listening.sent == [("router.outbox",), ("router.outbox",)]
    assert wakeup.forwarded == 2
    assert await waited(wakeup, within=0.05) >= 0.04  # and this process's loop slept on

    wakeup._conn = None  # not listening: nobody to tell, so look locally
    wakeup.announce()
    await asyncio.sleep(0.01)
    assert await waited(wakeup) < 0.01
    assert wakeup.forwarded == 2


async def test_the_listening_connection_gets_the_url_options_as_arguments() -> None:
    """`?ssl=require` (the Helm chart's URL) is an argument of asyncpg.connect: in a DSN,
    asyncpg would send it to PostgreSQL as a setting, and PostgreSQL refuses it."""
    engine = make_engine(
        "postgresql+asyncpg://hub:secret@db.example:5433/hub?ssl=require"
        "&prepared_statement_cache_size=100"
    )
    try:
        assert connect_options(engine) == {
            "host": "db.example",
            "port": 5433,
            "user": "hub",
            "password": "secret",
            "database": "hub",
            "ssl": "require",
        }
    finally:
        await engine.dispose()


async def waited(wakeup: Wakeup, **kwargs: object) -> float:
    start = time.monotonic()
    await wakeup.wait(**kwargs)  # type: ignore[arg-type]
    return time.monotonic() - start


async def test_a_wait_ends_when_woken_at_its_deadline_or_at_the_fallback() -> None:
    wakeup = Wakeup(None, None, fallback_seconds=0.2)
    asyncio.get_running_loop().call_later(0.02, wakeup.set)
    assert await waited(wakeup, within=5.0) < 0.15  # woken
    assert await waited(wakeup) < 0.01  # still set: the loop clears it before it reads
    wakeup.clear()
    assert 0.04 <= await waited(wakeup, within=0.05) < 0.15  # its own deadline
    assert 0.19 <= await waited(wakeup, within=60.0) < 0.4  # no later than the fallback
    assert await waited(wakeup, within=-3.0) < 0.05  # overdue: at once
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.02, done.set_result, None)
    assert await waited(wakeup, others=[done]) < 0.15  # or when one of `others` completes


class Store:
    """`first` for the first claim, then nothing; the next delivery falls due `due_in` from
    now."""

    def __init__(self, due_in: timedelta | None, first: list[Claimed] | None = None) -> None:
        self.claims: list[float] = []
        self.looked_ahead = 0
        self._due_in = due_in
        self._first = first or []

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        self.claims.append(time.monotonic())
        claimed, self._first = self._first, []
        return claimed

    async def next_due_in(self) -> timedelta | None:
        self.looked_ahead += 1
        return self._due_in


class Unused:
    async def send(self, *_args: object, **_kwargs: object) -> Attempt:
        raise AssertionError("nothing to send")


class Hanging:
    async def send(self, *_args: object, **_kwargs: object) -> Attempt:
        await asyncio.sleep(60)
        raise AssertionError("never answers")


async def run_worker(store: Store, seconds: float, mailer: object | None = None) -> None:
    worker = DeliveryWorker(
        store,  # type: ignore[arg-type]
        Unused(),
        mailer or Unused(),  # type: ignore[arg-type]
        concurrency=2,
        timeout_seconds=1.0,
        lease_seconds=5.0,
        wakeup=Wakeup(None, None, fallback_seconds=30.0),
    )
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_the_idle_worker_claims_again_when_the_next_delivery_falls_due() -> None:
    store = Store(timedelta(seconds=0.1))
    await run_worker(store, 0.35)
    # Every 0.1 s (the next due time), not every 30 s (the fallback), nor in a busy loop.
    assert 3 <= len(store.claims) <= 5, store.claims
    assert store.looked_ahead == len(store.claims)


async def test_the_idle_worker_with_nothing_pending_sleeps_until_the_fallback() -> None:
    store = Store(None)
    await run_worker(store, 0.3)
    assert len(store.claims) == 1


async def test_with_a_send_hanging_the_worker_still_claims_again_within_a_second() -> None:
    """A hanging endpoint's delivery settles only at its timeout: meanwhile nothing wakes the
    worker, so it claims again after BUSY_RECHECK_SECONDS and a retry due is not held back."""
    hanging = Claimed(1, "d-1", None, "email", "email", "a@example.org", b"", 1, datetime.now(UTC))
    store = Store(timedelta(seconds=30), first=[hanging])
    await run_worker(store, BUSY_RECHECK_SECONDS + 0.4, mailer=Hanging())
    assert len(store.claims) == 2, store.claims
    assert (
        BUSY_RECHECK_SECONDS - 0.05
        <= store.claims[1] - store.claims[0]
        < BUSY_RECHECK_SECONDS + 0.3
    )
