"""A replicated Kafka cluster loses nothing when a broker dies.

Three KRaft brokers of the test's own (deploy/local/stack.sh with HUB_KAFKA_BROKERS=3), topics
with three replicas of which two must have each write. The hub runs on them while the broker
leading the inbound and requested topics' first partitions is SIGKILLed mid-stream, work goes
on without it, and it is restarted later. Afterwards:
- every referral published exists exactly once (one hub id each) and has one Task;
- the notifier tracked every Task version;
- no service said "not ready" for longer than a leader election takes, and every service is
  ready again at the end;
- routing stalled, if at all, for no longer than that either.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub_common.messaging.clients import bootstrap_list
from hub_notifier.adapters.requester import referrer_reference
from tests.support.chaos import Load, wave, write_roster
from tests.support.infra import Infrastructure
from tests.support.kafka_cluster import KafkaCluster, new_cluster
from tests.support.kafka_io import read_to_end
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess, run_cli
from tests.support.stack import IsolatedStack, drop_database, prepare, run_id

pytestmark = pytest.mark.infra

PER_SOURCE = 15  # per wave, of each of the six formats
ELECTION_LIMIT = 30.0
"""Seconds a service may be unready, or routing stalled, around a broker's death: the election
itself takes well under a second; clients notice within their metadata and session timeouts."""


class Readiness:
    """Polls each service's /health/ready and keeps the longest run of answers that were not 200."""

    def __init__(self, services: dict[str, ServiceProcess]) -> None:
        self.services = services
        self.longest: dict[str, float] = dict.fromkeys(services, 0.0)
        self._since: dict[str, float | None] = dict.fromkeys(services)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while not stop.is_set():
                for name, service in self.services.items():
                    try:
                        ok = (await client.get(f"{service.url}/health/ready")).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    now = time.monotonic()
                    since = self._since[name]
                    if ok:
                        self._since[name] = None
                    elif since is None:
                        self._since[name] = now
                    else:
                        self.longest[name] = max(self.longest[name], now - since)
                await asyncio.sleep(0.25)


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


async def routing_stall(engine: AsyncEngine, due: list[int], stop: asyncio.Event) -> float:
    """The longest time the number of routed referrals stood still while some were due
    (`due[0]`: the good referrals published so far)."""
    longest, last_count, since = 0.0, -1, time.monotonic()
    while not stop.is_set():
        count = await scalar(engine, "select count(*) from router.tasks")
        now = time.monotonic()
        if count != last_count or count >= due[0]:
            last_count, since = count, now
        else:
            longest = max(longest, now - since)
        await asyncio.sleep(0.5)
    return longest


async def publish_durably(bootstrap: str, stack: IsolatedStack, load: Load) -> None:
    """As an agency should on a cluster: acks from every in-sync replica, idempotent retries."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_list(bootstrap),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )
    await producer.start()
    try:
        sent = [
            await producer.send(stack.topics.inbound(source), body, key=key.encode())
            for source, messages in load.messages.items()
            for key, body in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def leader_of(bootstrap: str, topic: str, partition: int = 0) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_list(bootstrap))
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        return next(p["leader"] for p in description["partitions"] if p["partition"] == partition)
    finally:
        await admin.close()


@pytest.mark.timeout(900)
async def test_killing_the_leading_broker_loses_and_repeats_nothing(
    infra: Infrastructure, tmp_path: Path
) -> None:
    if infra.kafka_tools is None:
        pytest.fail(
            "the cluster test starts three brokers from Kafka's jars: run with the local bring-up "
            "or name the jars' folder in KAFKA_TOOLS_LIB"
        )
    cluster: KafkaCluster = new_cluster(tmp_path / "cluster", infra.kafka_tools)
    await asyncio.to_thread(cluster.start)
    run = run_id()
    engine: AsyncEngine | None = None
    services: dict[str, ServiceProcess] = {}
    try:
        stack = await prepare(
            cluster.bootstrap_servers, infra.database_url, run, replication_factor=3
        )
        env = stack.env()
        run_cli(env, "workers", "load", str(write_roster(tmp_path)))
        services = {
            name: ServiceProcess(name, env, tmp_path) for name in ("intake", "router", "notifier")
        }
        for service in services.values():
            await asyncio.to_thread(service.start)
        engine = create_async_engine(stack.database_url, pool_pre_ping=True)
        readiness = Readiness(services)
        stop = asyncio.Event()
        due = [0]
        watchers = [
            asyncio.create_task(readiness.run(stop)),
            asyncio.create_task(routing_stall(engine, due, stop)),
        ]

        expected: set[str] = set()
        waves = [wave(number, PER_SOURCE) for number in range(3)]
        for load in waves:
            expected |= load.accepted

        due[0] = len(waves[0].accepted)
        await publish_durably(cluster.bootstrap_servers, stack, waves[0])
        victim = await leader_of(cluster.bootstrap_servers, stack.topics.requested)
        # Mid-stream: the second wave is on its way when the leader dies.
        due[0] += len(waves[1].accepted)
        second = asyncio.create_task(publish_durably(cluster.bootstrap_servers, stack, waves[1]))
        await asyncio.sleep(0.5)
        print(f"\ncluster: killing broker {victim}, leader of {stack.topics.requested}[0]")
        await asyncio.to_thread(cluster.kill, victim)
        await second
        two_waves = len(waves[0].accepted | waves[1].accepted)
        await eventually(
            lambda: scalar(engine, f"select count(*) >= {two_waves} from router.tasks"),
            timeout=180,
            what=f"{two_waves} referrals routed with broker {victim} dead",
            interval=1.0,
        )
        print(f"cluster: restarting broker {victim}")
        await asyncio.to_thread(cluster.restart, victim)
        due[0] += len(waves[2].accepted)
        await publish_durably(cluster.bootstrap_servers, stack, waves[2])
        await eventually(
            lambda: scalar(engine, f"select count(*) = {len(expected)} from router.tasks"),
            timeout=180,
            what=f"all {len(expected)} referrals routed",
            interval=1.0,
        )
        await eventually(
            lambda: scalar(
                engine,
                "select (select coalesce(sum(version), 0) from router.tasks)"
                " = (select count(*) from notifier.task_history h"
                "    join router.tasks t using (referral_id))",
            ),
            timeout=120,
            what="every Task version tracked by the notifier",
            interval=1.0,
        )
        await asyncio.sleep(2.0)  # readiness settles after the restart
        stop.set()
        _, stall = await asyncio.gather(*watchers)

        # Exactly once: one hub id per referrer reference, and nothing missing.
        published = [
            v for _, v in await read_to_end(cluster.bootstrap_servers, stack.topics.requested) if v
        ]
        ids: dict[str, set[str]] = defaultdict(set)
        for request in published:
            ids[str(referrer_reference(request))].add(request["id"])
        assert set(ids) == expected, (
            f"lost: {sorted(expected - set(ids))[:5]}, unexpected: {sorted(set(ids) - expected)[:5]}"
        )
        assert not {r: i for r, i in ids.items() if len(i) > 1}, "a referral got two hub ids"
        assert await scalar(engine, "select count(distinct referral_id) from router.tasks") == len(
            expected
        )

        print(f"cluster: longest unready {readiness.longest}, routing stalled {stall:.1f} s")
        assert max(readiness.longest.values()) < ELECTION_LIMIT, readiness.longest
        assert stall < ELECTION_LIMIT, f"routing stood still for {stall:.1f} s"
        async with httpx.AsyncClient(timeout=5.0) as client:
            for name, service in services.items():
                answer = await client.get(f"{service.url}/health/ready")
                assert answer.status_code == 200, f"{name} not ready at the end: {answer.text}"
    except BaseException:
        for n in range(1, 4):
            print(f"--- broker {n} log ---\n{cluster.log(n)}")
        for service in services.values():
            print(f"--- {service.name} log ---\n{service.tail()}")
        raise
    finally:
        for service in services.values():
            service.stop()
        if engine is not None:
            await engine.dispose()
        await asyncio.to_thread(cluster.stop)
        await drop_database(infra.database_url, f"hub_test_{run}")
