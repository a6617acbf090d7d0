"""`make bench-scaling` (`python -m benchmarks.scaling`): the router with 1, 2 and 3 replicas,
and the ceiling of one outbox relay.

Issue 16 asks whether routing scales out now that replicas lock only the workers a change
could offer to (`task_repository.lock_workers`) instead of one global lock, and whether one
outbox relay per service (the holder of an advisory lock publishes; the others wait) caps it.

1. An isolated database and topic prefix; intake and one router; the benchmark's roster.
2. The router stopped, `--referrals` of the usual load through intake: the ServiceRequests
   the router would read are captured from `referrals.requested` (with their headers). A
   router then routes these originals (a warm-up: caches, connections, prepared statements).
3. For each replica count: that many routers started and their consumer group stable, then the
   captured ServiceRequests published again as new referrals (new ids, episodes and event ids)
   all at once, straight onto `referrals.requested`. Timed from the first publish until every
   one is a Task row (decided) and until the router's outbox is empty (published by the relay).
   Only routers run: intake and the notifier would share the two cores and blur the figure.
4. The relay alone: `--relay-rows` Task snapshots staged in the router's outbox with no router
   running, then drained by one `OutboxRelay` in this process; its rate is the most one relay
   can publish, to set against the fastest routing rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from benchmarks.hub import RunningHub, delete_topics
from benchmarks.load import generate
from benchmarks.measure import ProcessSampler, cpu_speed_ms, machine_busy
from hub_common.fhir import systems as sys_
from hub_common.jsonio import dumps, loads
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.outbox import OutboxRelay, OutgoingEvent, add_to_outbox
from hub_router.public import OUTBOX as ROUTER_OUTBOX
from hub_router.public import OUTBOX_LOCK_KEY
from tests.support.infra import Infrastructure, infrastructure
from tests.support.processes import ServiceProcess
from tests.support.stack import drop_database, prepare, run_id

RELAY_ROWS = 20_000
Record = tuple[bytes | None, bytes, list[tuple[str, bytes]]]  # key, value, headers


def say(text_: str) -> None:
    print(f"[scaling] {text_}", file=sys.stderr, flush=True)


@dataclass
class Round:
    replicas: int
    referrals: int
    decided_seconds: float
    published_seconds: float
    peak_outbox: int
    router_cpu_percent: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "replicas": self.replicas,
            "referrals": self.referrals,
            "decided_per_second": round(self.referrals / self.decided_seconds, 1),
            "published_per_second": round(self.referrals / self.published_seconds, 1),
            "decided_seconds": round(self.decided_seconds, 2),
            "published_seconds": round(self.published_seconds, 2),
            "peak_outbox_rows": self.peak_outbox,
            "router_cpu_percent": self.router_cpu_percent,
        }


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def wait_for(engine: AsyncEngine, sql: str, seconds: float, what: str, **params: Any) -> None:
    deadline = time.monotonic() + seconds
    while not await scalar(engine, sql, **params):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds:.0f} s")
        await asyncio.sleep(0.1)


async def read_all(bootstrap: str, topic: str, expected: int, seconds: float) -> list[Record]:
    """Every record on `topic` (key, value, headers) once it holds `expected` of them."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Record] = []
    try:
        deadline = time.monotonic() + seconds
        while len(found) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(found)} of {expected} records on {topic}")
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend((r.key, r.value, list(r.headers)) for r in records if r.value)
    finally:
        await consumer.stop()
    return found


def as_new_referral(record: Record, suffix: str) -> Record:
    """The same ServiceRequest as another referral of another person: new id, episode and
    event id, so the router does all of its work again (nothing is a redelivery)."""
    _key, value, headers = record
    request = loads(value)
    request["id"] = f"{request['id']}{suffix}"
    for extension in request.get("extension", []):
        if extension.get("url") == sys_.EPISODE_EXTENSION_URL:
            for name in [n for n in extension if n.startswith("value")]:
                extension[name] = f"{extension[name]}{suffix}"
    fresh = [
        (name, str(uuid.uuid4()).encode() if name == "event-id" else content)
        for name, content in headers
    ]
    return (request["id"].encode(), dumps(request), fresh)


async def group_members(bootstrap: str, group: str) -> tuple[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        described = response.groups[0]  # error, group, state, protocol type, protocol, members
        return str(described[2]), len(described[5])
    finally:
        await admin.close()


async def wait_stable(bootstrap: str, group: str, members: int, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while (found := await group_members(bootstrap, group)) != ("Stable", members):
        if time.monotonic() > deadline:
            raise RuntimeError(f"group {group}: {found}, wanted Stable with {members} members")
        await asyncio.sleep(0.5)


async def capture(hub: RunningHub, referrals: int, seed: int) -> list[Record]:
    """Run the usual load through intake (no router running) and keep what it publishes."""
    stack = hub.stack
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers)
    await producer.start()
    try:
        for message in generate(referrals, f"{hub.run}c", seed):
            await producer.send(
                stack.topics.inbound(message.source), message.body, key=message.key.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    return await read_all(
        stack.kafka_bootstrap_servers, stack.topics.requested, referrals, seconds=300
    )


async def one_round(
    hub: RunningHub,
    engine: AsyncEngine,
    captured: list[Record],
    replicas: int,
    log_dir: Path,
) -> Round:
    stack = hub.stack
    routers = [ServiceProcess("router", stack.env(), log_dir) for _ in range(replicas)]
    try:
        for router in routers:
            await asyncio.to_thread(router.start, 120.0)
        await wait_stable(stack.kafka_bootstrap_servers, f"{stack.topic_prefix}router", replicas)
        suffix = f"-x{replicas}"
        records = [as_new_referral(record, suffix) for record in captured]
        pids = {f"router-{n + 1}": r.process.pid for n, r in enumerate(routers) if r.process}
        sampler = ProcessSampler(pids)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, linger_ms=5)
        await producer.start()
        try:
            sampler.begin()
            started = time.monotonic()
            for key, value, headers in records:
                await producer.send(stack.topics.requested, value, key=key, headers=headers)
            await producer.flush()
        finally:
            await producer.stop()
        decided = published = 0.0
        peak = 0
        count_sql = "select count(*) from router.tasks where referral_id like :pattern"
        deadline = started + 600
        while not published:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{replicas} routers did not finish in 600 s")
            done = await scalar(engine, count_sql, pattern=f"%{suffix}")
            waiting = await scalar(engine, "select count(*) from router.outbox")
            peak = max(peak, waiting)
            now = time.monotonic() - started
            if done >= len(records) and not decided:
                decided = now
            if decided and waiting == 0:
                published = now
            await asyncio.sleep(0.05)
        usage = await sampler.end()
    finally:
        for router in routers:
            router.stop()
    return Round(
        replicas,
        len(records),
        decided,
        published,
        peak,
        {name: use.cpu_percent for name, use in usage.items()},
    )


async def relay_ceiling(hub: RunningHub, engine: AsyncEngine, rows: int) -> dict[str, Any]:
    """Stage `rows` real Task snapshots in the router's outbox (no router running) and time
    one relay draining them to Kafka: the most one relay per service can publish."""
    async with engine.connect() as conn:
        found = await conn.execute(text("select task::text from router.tasks limit 200"))
        snapshots = [row[0].encode() for row in found]
    staged = 0
    async with engine.begin() as conn:
        while staged < rows:
            chunk = min(2000, rows - staged)
            await add_to_outbox(
                conn,
                ROUTER_OUTBOX,
                [
                    OutgoingEvent(
                        hub.stack.topics.tasks,
                        f"relay-{staged + n}",
                        snapshots[(staged + n) % len(snapshots)],
                        Envelope.new("TaskChanged", sys_.FHIR_JSON),
                    )
                    for n in range(chunk)
                ],
            )
            staged += chunk
    relay = OutboxRelay(
        engine, ROUTER_OUTBOX, hub.stack.kafka_bootstrap_servers, lock_key=OUTBOX_LOCK_KEY
    )
    started = time.monotonic()
    running = asyncio.create_task(relay.run())
    try:
        while relay.published < rows:
            if time.monotonic() - started > 300:
                raise RuntimeError(f"the relay published {relay.published} of {rows} in 300 s")
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "per_second": round(rows / elapsed, 1),
        "value_bytes_mean": round(sum(map(len, snapshots)) / len(snapshots)),
    }


async def measure(infra: Infrastructure, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    """The scaling figures, on a slice of `infra` of their own (dropped afterwards)."""
    run = run_id()
    stack = await prepare(
        infra.kafka_bootstrap_servers, infra.database_url, run, partitions=args.partitions
    )
    hub = RunningHub(stack, run)
    engine = create_async_engine(stack.database_url)
    try:
        for name in ("intake", "router"):
            hub.services[name] = ServiceProcess(name, stack.env(), log_dir)
            await asyncio.to_thread(hub.services[name].start, 120.0)
        workers = await hub.load_roster(log_dir / "scaling-roster.csv")
        hub.services.pop("router").stop()
        say(f"{workers} link workers; {args.referrals} referrals through intake to capture")
        captured = await capture(hub, args.referrals, args.seed)
        hub.services.pop("intake").stop()
        warm = ServiceProcess("router", stack.env(), log_dir)
        await asyncio.to_thread(warm.start, 120.0)
        try:
            await wait_for(
                engine,
                "select count(*) >= :n from router.tasks",
                300,
                "the warm-up",
                n=len(captured),
            )
        finally:
            warm.stop()
        rounds = []
        for replicas in args.replica_counts:
            say(f"{replicas} router replica(s): {len(captured)} referrals")
            result = await one_round(hub, engine, captured, replicas, log_dir)
            say(
                f"  decided {result.to_json()['decided_per_second']}/s, "
                f"published {result.to_json()['published_per_second']}/s"
            )
            rounds.append(result.to_json())
        say(f"one relay alone: {args.relay_rows} outbox rows")
        relay = await relay_ceiling(hub, engine, args.relay_rows)
    finally:
        hub.stop_services()
        await engine.dispose()
        await drop_database(infra.database_url, f"hub_test_{run}")
        await delete_topics(infra.kafka_bootstrap_servers, stack.topic_prefix)
    base = rounds[0]["decided_per_second"]
    fastest = max(r["published_per_second"] for r in rounds)
    return {
        "rounds": rounds,
        "speed_up": {str(r["replicas"]): round(r["decided_per_second"] / base, 2) for r in rounds},
        "relay": relay,
        "relay_headroom": round(relay["per_second"] / fastest, 2),
    }


def summary(result: dict[str, Any]) -> str:
    lines = ["router replicas | decided/s | published/s | x one replica | peak outbox"]
    for r in result["rounds"]:
        lines.append(
            f"{r['replicas']:>15} | {r['decided_per_second']:>9} | "
            f"{r['published_per_second']:>11} | {result['speed_up'][str(r['replicas'])]:>13} | "
            f"{r['peak_outbox_rows']:>11}"
        )
    relay = result["relay"]
    lines.append(
        f"one outbox relay alone: {relay['per_second']}/s ({relay['rows']} Task snapshots of "
        f"{relay['value_bytes_mean']} bytes), {result['relay_headroom']} x the fastest routing"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling",
        description="Router throughput with 1, 2 and 3 replicas, and one outbox relay's ceiling.",
    )
    parser.add_argument("--referrals", type=int, default=2000, help="referrals per round")
    parser.add_argument("--replicas", dest="replica_counts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--relay-rows", type=int, default=RELAY_ROWS, help="outbox rows to drain")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    parser.add_argument("--seed", type=int, default=1, help="load generator seed")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="results folder")
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    log_dir = args.out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    with infrastructure() as infra:
        busy = await machine_busy()
        speed_before = cpu_speed_ms()
        result = await measure(infra, args, log_dir)
        speed_after = cpu_speed_ms()
    return {
        "run": {
            "started_at": started.isoformat(timespec="seconds"),
            "command": " ".join(["python -m benchmarks.scaling", *sys.argv[1:]]),
        },
        "machine": {
            "busy_before_run_percent": busy,
            "cpu_speed_ms": {"start": speed_before, "end": speed_after},
        },
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(main_async(args))
    stamp = result["run"]["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = args.out / f"scaling-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
