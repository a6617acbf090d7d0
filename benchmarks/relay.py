"""Two ceilings: the same messages through three relay hops, A->B->C->D, each its own process
(as each hub service is), a consumer group member reading batches.

- **raw**: every record produced unchanged to the next topic, with no parsing, no database and
  no per-message commit: the machine's Kafka capacity. Whatever the hub does beyond this is the
  price of its work.
- **durable** (`--database`): the least any hub with the hub's guarantees must do. Per batch,
  one PostgreSQL transaction (plain asyncpg, prepared statements) records an inbox row per
  message (a redelivered one is skipped) and an outbox row per output; after the commit the
  outputs go out through an idempotent producer, the outbox rows are marked published, and
  only then is the batch's offset committed. Nothing is lost or done twice if a hop dies at
  any point, as in the hub; what it leaves out is the hub's own work (parsing, FHIR, routing).

`python -m benchmarks.relay --source A --target B ...` runs one hop; `RelayChain` runs three.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import selectors
import subprocess
import sys
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.infra import REPO

READY = "ready"


def relay_topics(prefix: str, kind: str = "relay") -> list[str]:
    """A, B, C, D under the run's prefix, so the run's clean-up removes them too."""
    return [f"{prefix}bench.{kind}.{name}" for name in "abcd"]


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def _joined(consumer: AIOKafkaConsumer) -> None:
    """Wait until the hop has joined its group (records flow from here; aiokafka offers no
    event to await for it), then tell the chain it is ready."""
    while not consumer.assignment():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    print(READY, flush=True)


async def hop(bootstrap: str, source: str, target: str, group: str) -> None:
    """Consume `source`, produce each record's key and value to `target`, forever."""
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        await _joined(consumer)
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            sent = [
                await producer.send(target, record.value, key=record.key)
                for records in batches.values()
                for record in records
            ]
            if sent:
                # Delivered before the next batch, so auto-committed offsets never run ahead
                # of what reached the next topic: the least a real relay must do.
                await asyncio.gather(*sent)
    finally:
        await producer.stop()
        await consumer.stop()


# The three hops start together: IF NOT EXISTS alone races (two CREATE SCHEMAs, one unique
# violation), so each takes a lock first; the script runs as one implicit transaction.
DURABLE_SCHEMA = """
SELECT pg_advisory_xact_lock(7340171);
CREATE SCHEMA IF NOT EXISTS bench_relay;
CREATE TABLE IF NOT EXISTS bench_relay.inbox (
    hop text NOT NULL, event_id text NOT NULL, PRIMARY KEY (hop, event_id));
CREATE TABLE IF NOT EXISTS bench_relay.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, hop text NOT NULL,
    key bytea, value bytea NOT NULL, published_at timestamptz);
"""
# One statement per table per batch, whatever the batch's size: arrays in, rows out.
RECORD_INBOX = """
INSERT INTO bench_relay.inbox (hop, event_id) SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING RETURNING event_id"""
STAGE_OUTBOX = """
INSERT INTO bench_relay.outbox (hop, key, value)
SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) RETURNING id"""
MARK_PUBLISHED = "UPDATE bench_relay.outbox SET published_at = now() WHERE id = ANY($1::bigint[])"


def event_id(record: ConsumerRecord[bytes, bytes]) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


async def durable_hop(bootstrap: str, source: str, target: str, group: str, database: str) -> None:
    """The durable ceiling's hop (see the module's docstring): forever. Its consumer group
    names its rows in the shared inbox and outbox."""
    connection = await asyncpg.connect(database)
    async with connection.transaction():
        # The three hops start at once: CREATE SCHEMA IF NOT EXISTS is not safe against a
        # concurrent one (a unique violation in pg_namespace), so they take turns.
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('bench_relay'))")
        await connection.execute(DURABLE_SCHEMA)
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        await _joined(consumer)
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            records = [record for part in batches.values() for record in part]
            if not records:
                continue
            async with connection.transaction():
                fresh = {
                    row["event_id"]
                    for row in await connection.fetch(
                        RECORD_INBOX, group, [event_id(r) for r in records]
                    )
                }
                outputs = [r for r in records if event_id(r) in fresh]
                staged = await connection.fetch(
                    STAGE_OUTBOX,
                    group,
                    [r.key for r in outputs],
                    [r.value for r in outputs],
                )
            sent = [await producer.send(target, r.value, key=r.key) for r in outputs]
            await asyncio.gather(*sent)
            await connection.execute(MARK_PUBLISHED, [row["id"] for row in staged])
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
        await connection.close()


class RelayChain:
    """Three hop processes over A->B->C->D; started ready (each has joined its group). With a
    `database` (a PostgreSQL DSN) the hops are the durable ceiling's, else the raw relay's."""

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        group_prefix: str,
        log_dir: Path,
        database: str | None = None,
    ):
        self._bootstrap = bootstrap
        self._topics = topics
        self._group_prefix = group_prefix
        self._log_dir = log_dir
        self._database = database
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, ready_timeout: float = 60.0) -> None:
        for n, (source, target) in enumerate(zip(self._topics, self._topics[1:], strict=False)):
            name = f"{'durable' if self._database else 'relay'}-{n + 1}"
            log = (self._log_dir / f"{name}.log").open("a")
            database = [f"--database={self._database}"] if self._database else []
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                [
                    sys.executable,
                    "-m",
                    "benchmarks.relay",
                    f"--bootstrap={self._bootstrap}",
                    f"--source={source}",
                    f"--target={target}",
                    f"--group={self._group_prefix}{name}",
                    *database,
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        for name, process in self.processes.items():
            assert process.stdout is not None
            line = _readline(process, ready_timeout)
            if line.strip() != READY:
                self.stop()
                raise RuntimeError(f"{name} did not start; see {self._log_dir / name}.log")

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of output, or "" when it exits or stays silent too long."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


def main() -> None:
    parser = argparse.ArgumentParser(description="One raw relay hop (see benchmarks/relay.py).")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--database", help="a PostgreSQL DSN: run the durable ceiling's hop")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if args.database:
            asyncio.run(
                durable_hop(args.bootstrap, args.source, args.target, args.group, args.database)
            )
        else:
            asyncio.run(hop(args.bootstrap, args.source, args.target, args.group))


if __name__ == "__main__":
    main()
