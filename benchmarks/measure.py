"""Observing a run: publishing at a rate, reading every hop's record timestamps, sampling
the processes' CPU and memory.

Every time is a Kafka record timestamp in ms (CreateTime, set by whichever producer wrote the
record) or, for the inbound hop, the publish time the harness records and stamps on its own
records. All processes run on this machine, so one clock serves them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from benchmarks.load import Inbound
from hub_common.jsonio import loads

REFERRER_SYSTEM_MARK = "/Id/referrer-ref/"


def now_ms() -> int:
    return int(time.time() * 1000)


class Observer(Protocol):
    """Turns the records of the topics it reads into per-referral timestamps."""

    @property
    def topics(self) -> list[str]: ...

    def mark_published(self, message: Inbound, at_ms: int) -> None: ...
    def handle(self, record: ConsumerRecord[bytes, bytes]) -> None: ...
    def finished(self, references: Iterable[str]) -> int: ...
    def describe(self, references: Sequence[str]) -> str: ...


@dataclass
class HubObserver:
    """The hub's hops for each referral, correlated by referrer reference.

    inbound (harness publish) -> `referrals.requested` (ServiceRequest, identifier[1] is the
    referrer reference) -> `referrals.tasks` (first Task, focus `ServiceRequest/<id>`) ->
    the agencies' `referrals.status.<source>.<agency>` topics named in `status_topics`
    (whatever the notifier publishes there, matched on any id it carries: the referral id,
    `Task/<id>` or the referrer reference), or the referrer's
    webhook (the harness's receiver, benchmarks/webhook.py), whichever hears first.
    """

    requested_topic: str
    tasks_topic: str
    rejected_topic: str
    status_topics: list[str]
    published: dict[str, int] = field(default_factory=dict)  # reference -> ms
    requested: dict[str, int] = field(default_factory=dict)  # reference -> ms
    referral_of: dict[str, str] = field(default_factory=dict)  # reference -> referral id
    tasks: dict[str, int] = field(default_factory=dict)  # referral id -> first Task ms
    task_state: dict[str, str] = field(default_factory=dict)  # referral id -> businessStatus
    status_tokens: dict[str, int] = field(default_factory=dict)  # any id seen -> first ms
    status_messages: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reference -> ms
    webhook: dict[str, int] = field(default_factory=dict)  # referral id -> first POST ms

    @property
    def topics(self) -> list[str]:
        return [self.requested_topic, self.tasks_topic, self.rejected_topic, *self.status_topics]

    def mark_published(self, message: Inbound, at_ms: int) -> None:
        for reference in message.references:
            self.published[reference] = at_ms

    def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.topic == self.requested_topic:
            self._on_requested(record)
        elif record.topic == self.tasks_topic:
            self._on_task(record)
        elif record.topic == self.rejected_topic:
            # Keyed `<source>:<reference>`; a rejection means the load generator is wrong.
            key = (record.key or b"").decode(errors="replace")
            self.rejected.setdefault(key.partition(":")[2], record.timestamp)
        else:
            self._on_status(record)

    def _on_requested(self, record: ConsumerRecord[bytes, bytes]) -> None:
        request = loads(record.value or b"{}")
        for identifier in request.get("identifier", []):
            if REFERRER_SYSTEM_MARK in str(identifier.get("system", "")):
                reference = str(identifier.get("value"))
                self.requested.setdefault(reference, record.timestamp)
                self.referral_of[reference] = str(request["id"])

    def _on_task(self, record: ConsumerRecord[bytes, bytes]) -> None:
        task = loads(record.value or b"{}")
        focus = str(task.get("focus", {}).get("reference", ""))
        referral_id = focus.removeprefix("ServiceRequest/") or str(task.get("id"))
        if referral_id not in self.tasks or record.timestamp < self.tasks[referral_id]:
            self.tasks[referral_id] = record.timestamp
            coding = (task.get("businessStatus", {}).get("coding") or [{}])[0]
            self.task_state[referral_id] = str(coding.get("code", ""))

    def _on_status(self, record: ConsumerRecord[bytes, bytes]) -> None:
        # The notifier's status events are new (issue 5): match on every id-like string in
        # them rather than assume a shape, so the harness keeps working as that shape settles.
        self.status_messages += 1
        tokens = set(_strings(loads(record.value))) if record.value else set()
        if record.key:
            tokens.add(record.key.decode(errors="replace"))
        for token in tokens:
            for candidate in (token, token.rpartition("/")[2]):
                if candidate not in self.status_tokens:
                    self.status_tokens[candidate] = record.timestamp

    def mark_notified(self, referral_id: str, at_ms: int) -> None:
        """The referrer's webhook received a notification of this referral's Task."""
        self.webhook.setdefault(referral_id, at_ms)

    # Resolved views, reference -> ms, for the figures.
    def task_at(self) -> dict[str, int]:
        return {
            reference: self.tasks[rid]
            for reference, rid in self.referral_of.items()
            if rid in self.tasks
        }

    def status_at(self) -> dict[str, int]:
        found = {}
        for reference, rid in self.referral_of.items():
            heard = [
                at
                for at in (
                    self.webhook.get(rid),
                    self.status_tokens.get(rid, self.status_tokens.get(reference)),
                )
                if at is not None
            ]
            if heard:
                found[reference] = min(heard)
        return found

    def unassigned(self, references: Iterable[str]) -> int:
        """Tasks that did not start as an offer to a worker (capacity should never bind)."""
        return sum(
            1
            for reference in references
            if (rid := self.referral_of.get(reference)) in self.task_state
            and self.task_state[rid] != "offered"
        )

    def finished(self, references: Iterable[str]) -> int:
        return sum(
            1
            for reference in references
            if self.referral_of.get(reference) in self.tasks or reference in self.rejected
        )

    def notified(self, references: Iterable[str]) -> int:
        if not self.status_tokens and not self.webhook:
            return 0
        return sum(
            1
            for reference in references
            if reference in self.status_tokens
            or (rid := self.referral_of.get(reference, "")) in self.status_tokens
            or rid in self.webhook
        )

    def describe(self, references: Sequence[str]) -> str:
        wanted = set(references)
        requested = sum(1 for reference in wanted if reference in self.requested)
        text = f"requested {requested} · tasks {self.finished(wanted)}"
        if self.status_messages or self.webhook:
            text += f" · notified {self.notified(wanted)}"
        if rejected := sum(1 for reference in wanted if reference in self.rejected):
            text += f" · REJECTED {rejected}"
        return text


def _strings(value: Any) -> Iterable[str]:
    """Every short string in a JSON value (ids, references), depth first."""
    if isinstance(value, str):
        if len(value) <= 120:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@dataclass
class RelayObserver:
    """The raw relay's hops A->B->C->D, per referral (a message's referrals share its times)."""

    hop_topics: list[str]  # B, C, D: the topics the relay writes
    published: dict[str, int] = field(default_factory=dict)
    arrived: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> reference -> ms
    references_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key -> references

    def __post_init__(self) -> None:
        self.arrived = {topic: {} for topic in self.hop_topics}

    @property
    def topics(self) -> list[str]:
        return list(self.hop_topics)

    def mark_published(self, message: Inbound, at_ms: int) -> None:
        self.references_of[message.key] = message.references
        for reference in message.references:
            self.published[reference] = at_ms

    def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        seen = self.arrived[record.topic]
        for reference in self.references_of.get((record.key or b"").decode(), ()):
            seen.setdefault(reference, record.timestamp)

    def finished(self, references: Iterable[str]) -> int:
        last = self.arrived[self.hop_topics[-1]]
        return sum(1 for reference in references if reference in last)

    def describe(self, references: Sequence[str]) -> str:
        wanted = set(references)
        counts = [sum(1 for r in wanted if r in self.arrived[t]) for t in self.hop_topics]
        return " · ".join(f"hop {n + 1} {count}" for n, count in enumerate(counts))


class Collector:
    """Reads the observer's topics from the start and feeds it every record, until stopped."""

    def __init__(self, bootstrap: str, observer: Observer) -> None:
        self._observer = observer
        # No group: nothing to rebalance, and the topics are this run's own, read from the start.
        self._consumer = AIOKafkaConsumer(
            *observer.topics,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        await self._consumer.start()
        self._task = asyncio.create_task(self._read(), name="bench collector")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for record in records:
                    self._observer.handle(record)


async def publish(
    producer: AIOKafkaProducer,
    topic_of: Callable[[str], str],
    messages: Sequence[Inbound],
    rate: float | None,
    observer: Observer,
    sent: list[int],
) -> None:
    """Publish `messages` at `rate` referrals per second (None: as fast as possible).

    Open loop: each message is due at its planned time whatever the hub is doing, so a slow
    hub shows up as latency rather than as a politely slower publisher. `sent[0]` counts
    referrals published, for the progress line.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    planned = 0
    pending = []
    for message in messages:
        if rate:
            delay = start + planned / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        at = now_ms()
        observer.mark_published(message, at)
        pending.append(
            await producer.send(
                topic_of(message.source), message.body, key=message.key.encode(), timestamp_ms=at
            )
        )
        planned += len(message.references)
        sent[0] = planned
    await asyncio.gather(*pending)


@dataclass
class Usage:
    """CPU seconds and memory of one process over a phase."""

    cpu_seconds: float
    cpu_percent: float  # of one core, averaged over the phase
    rss_peak_mb: float  # highest sampled resident set during the phase
    rss_end_mb: float
    rss_lifetime_peak_mb: float | None  # the kernel's VmHWM: peak since the process started


class ProcessSampler:
    """Samples resident memory of named processes; CPU comes from their cumulative times."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._interval = interval
        self._peaks: dict[str, int] = {}
        self._cpu0: dict[str, float] = {}
        self._t0 = 0.0
        self._machine0 = psutil.cpu_times()
        self._load0 = 0.0
        self._task: asyncio.Task[None] | None = None

    def _cpu(self, process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def begin(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {name: self._cpu(p) for name, p in self._processes.items()}
        self._peaks = {name: p.memory_info().rss for name, p in self._processes.items()}
        self._machine0 = psutil.cpu_times()
        self._load0 = os.getloadavg()[0]
        self._task = asyncio.create_task(self._sample(), name="bench sampler")

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for name, process in self._processes.items():
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss
                    self._peaks[name] = max(self._peaks.get(name, 0), rss)

    async def end(self) -> dict[str, Usage]:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        usage = {}
        for name, process in self._processes.items():
            cpu = self._cpu(process) - self._cpu0[name]
            rss = process.memory_info().rss
            usage[name] = Usage(
                cpu_seconds=round(cpu, 2),
                cpu_percent=round(100 * cpu / elapsed, 1),
                rss_peak_mb=round(max(self._peaks.get(name, 0), rss) / 2**20, 1),
                rss_end_mb=round(rss / 2**20, 1),
                rss_lifetime_peak_mb=_vm_hwm_mb(process.pid),
            )
        return usage

    def machine(self) -> dict[str, float]:
        """The whole machine over the phase (call after `end`): anything else running on it,
        such as another test suite, shows here and in the load average, not in `usage`."""
        before, after = self._machine0, psutil.cpu_times()
        total = sum(after) - sum(before)
        idle = (after.idle + getattr(after, "iowait", 0)) - (
            before.idle + getattr(before, "iowait", 0)
        )
        steal = getattr(after, "steal", 0.0) - getattr(before, "steal", 0.0)
        return {
            "cpu_busy_percent": round(100 * (1 - idle / total), 1) if total > 0 else 0.0,
            # Time a virtual machine's cores were taken by its host: work of other guests that
            # no process here shows, slowing everything the same.
            "cpu_steal_percent": round(100 * steal / total, 1) if total > 0 else 0.0,
            "load_average_1m_start": round(self._load0, 2),
            "load_average_1m_end": round(os.getloadavg()[0], 2),
        }


CALIBRATION_DOCUMENT = {
    "resourceType": "ServiceRequest",
    "status": "active",
    "identifier": [{"system": f"https://example.org/ref/{n}", "value": f"R-{n}"} for n in range(8)],
    "note": [{"text": "x" * 200} for _ in range(4)],
    "contained": [
        {"resourceType": "Patient", "id": f"p{n}", "name": [{"family": "F"}]} for n in range(6)
    ],
}


def cpu_speed_ms(rounds: int = 5, repeats: int = 10_000) -> float:
    """Milliseconds one core takes for a fixed piece of the services' kind of work (JSON out
    and in, walking dicts), best of `rounds`. The same code measures slower when the machine
    is (a host busy with other guests, a lower clock), and the hub's figures with it: two runs
    compare only when these are close."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeats):
            document = orjson.loads(orjson.dumps(CALIBRATION_DOCUMENT))
            sorted(identifier["value"] for identifier in document["identifier"])
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


async def machine_busy(seconds: float = 2.0) -> float:
    """How busy the whole machine is right now (percent of all cores), before the run adds to
    it: a benchmark on a shared machine must say so."""
    return float(await asyncio.to_thread(psutil.cpu_percent, interval=seconds))


def _vm_hwm_mb(pid: int) -> float | None:
    """Linux's high-water mark of resident memory, which no sampling interval can miss."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class DatabaseWork:
    """What PostgreSQL did for a phase in the run's database (None: not measured)."""

    statements: int | None  # every statement but BEGIN, COMMIT and ROLLBACK
    transactions: int | None  # COMMITs and ROLLBACKs
    # Statements by the service whose schema the statement names ("other": none of them), and
    # the most frequent statements (their first words): where a count comes from.
    by_service: dict[str, int] = field(default_factory=dict)
    top: list[tuple[str, int]] = field(default_factory=list)


# Transaction control told apart from the work by the first word of pg_stat_statements' text.
_COUNTS = """
with counted as (
    select calls, upper(split_part(ltrim(query), ' ', 1)) as verb from pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database()))
select coalesce(sum(calls) filter (
           where verb not in ('BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK')), 0),
       coalesce(sum(calls) filter (where verb in ('COMMIT', 'END', 'ROLLBACK')), 0)
from counted"""

# Every statement but transaction control, one row per statement text.
_STATEMENTS = """
select queryid, query, calls from pg_stat_statements
where dbid = (select oid from pg_database where datname = current_database())
  and upper(split_part(ltrim(query), ' ', 1))
      not in ('BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK')"""

SERVICE_SCHEMAS = ("intake", "router", "notifier")
TOP_STATEMENTS = 25


def service_of(query: str) -> str:
    """The service whose tables a statement names (its schema), or "other"."""
    for schema in SERVICE_SCHEMAS:
        if re.search(rf"\b{schema}\.", query):
            return schema
    return "other"


class DatabaseCounter:
    """Counts the statements and transactions of one database between `begin()` and `end()`,
    from pg_stat_statements (counted as they run, unlike pg_stat_database's, which idle
    backends report up to ten seconds late). `deploy/local/stack.sh` preloads it; on a server
    without it both are None. The harness runs nothing in that database during a phase, so
    every statement counted is the services' (or the relay's)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._start: tuple[int, int] | None = None
        self._start_calls: dict[int, tuple[str, int]] = {}
        self._calls: dict[int, tuple[str, int]] = {}

    async def _query(self) -> tuple[int, int] | None:
        conn = await asyncpg.connect(self._dsn)
        try:
            loaded = await conn.fetchval(
                "select 'pg_stat_statements' = any(string_to_array("
                "current_setting('shared_preload_libraries'), ', '))"
            )
            if not loaded:
                return None
            await conn.execute("create extension if not exists pg_stat_statements")
            statements, transactions = await conn.fetchrow(_COUNTS)
            self._calls = {
                row["queryid"]: (row["query"], int(row["calls"]))
                for row in await conn.fetch(_STATEMENTS)
            }
        finally:
            await conn.close()
        return int(statements), int(transactions)

    async def begin(self) -> None:
        self._start = await self._query()
        self._start_calls = self._calls

    async def end(self) -> DatabaseWork:
        now = await self._query()
        if now is None or self._start is None:
            return DatabaseWork(None, None)
        by_service: dict[str, int] = {}
        made: list[tuple[str, int]] = []
        for queryid, (query, calls) in self._calls.items():
            calls -= self._start_calls.get(queryid, ("", 0))[1]
            if calls > 0:
                service = service_of(query)
                by_service[service] = by_service.get(service, 0) + calls
                made.append((" ".join(query.split())[:160], calls))
        made.sort(key=lambda item: -item[1])
        return DatabaseWork(
            now[0] - self._start[0], now[1] - self._start[1], by_service, made[:TOP_STATEMENTS]
        )


class Progress:
    """One line of progress: redrawn in place on a terminal, every few seconds in a log."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._tty = sys.stderr.isatty()
        self._last = 0.0
        self._start = time.monotonic()

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not self._tty and not force and now - self._last < 5:
            return
        self._last = now
        line = f"[{self._label}] {now - self._start:6.1f} s  {text}"
        if self._tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self, text: str) -> None:
        self.show(text, force=True)
        if self._tty:
            sys.stderr.write("\n")
