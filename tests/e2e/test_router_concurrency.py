"""Three router replicas (separate processes, one consumer group) route 1,500 referrals for a
handful of link workers whose limits bind, while offers time out and are re-offered by every
replica's sweeper, link workers accept offers over HTTP on any replica, and one replica is
SIGKILLed mid-stream and restarted. Throughout and afterwards:

- no worker ever holds more open referrals than their caseload limit, nor more referrals
  offered for one day than their daily limit (sampled in consistent snapshots while it runs);
- no referral is ever offered to two workers at once: every referral's Task history on Kafka is
  one snapshot per version, versions 1, 2, 3, ... with no gap and no two different versions n;
- nothing is routed twice: one routing decision per referral, despite duplicates on the topic
  and the crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub_common.fhir.needs import NeedCategory as N
from hub_common.fhir.systems import FHIR_JSON
from hub_common.jsonio import dumps, loads
from hub_common.messaging.envelope import Envelope
from hub_common.security.auth import Principal, issue_token
from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.domain.model import WEEKDAYS, LinkWorker
from tests.support.infra import Infrastructure
from tests.support.processes import ServiceProcess
from tests.support.referrals import service_request
from tests.support.stack import IsolatedStack, drop_database, prepare, run_id

pytestmark = pytest.mark.infra

REFERRALS = 1500
DUPLICATES = 150  # the same events again, as a relay republishing after a crash would
REPLICAS = 3
POSTCODES = ["CR0 1AA", "CR7 8AB", "CR2 6XH", "SE25 4AB", "CR5 2AA", "CR8 3AB"]

BASE = LinkWorker(
    "lw",
    boroughs=frozenset({"Croydon"}),
    postcode_districts=frozenset({"CR0", "CR7"}),
    working_days=frozenset(WEEKDAYS),
)
# Small limits, so both bind within the seven days routing looks ahead.
WORKERS = [
    replace(
        BASE, worker_id="lw-1", max_caseload=30, max_new_per_day=10, needs=frozenset({N.HOUSING})
    ),
    replace(
        BASE,
        worker_id="lw-2",
        max_caseload=20,
        max_new_per_day=8,
        languages=frozenset({"en", "ta"}),
    ),
    replace(BASE, worker_id="lw-3", max_caseload=60, max_new_per_day=5),
    replace(BASE, worker_id="lw-4", max_caseload=15, max_new_per_day=15, risk_cleared=True),
    replace(
        BASE,
        worker_id="lw-5",
        max_caseload=40,
        max_new_per_day=3,
        working_days=frozenset(WEEKDAYS[:3]),
    ),
]
LIMITS = {w.worker_id: w for w in WORKERS}


@dataclass
class Watch:
    """What the invariant monitor saw while the replicas worked."""

    samples: int = 0
    violations: list[str] = field(default_factory=list)
    peak_active: Counter[str] = field(default_factory=Counter)


async def check_limits(engine: AsyncEngine, watch: Watch) -> None:
    """One consistent snapshot (REPEATABLE READ): both limits hold for every worker."""
    async with engine.execution_options(isolation_level="REPEATABLE READ").begin() as conn:
        active = (
            await conn.execute(
                text(
                    "select owner, count(*) from router.tasks where owner is not null"
                    " and status in ('requested', 'accepted', 'in-progress', 'on-hold') group by owner"
                )
            )
        ).all()
        per_day = (
            await conn.execute(
                text(
                    "select owner, offered_on, count(*) from router.tasks"
                    " where owner is not null group by owner, offered_on"
                )
            )
        ).all()
    watch.samples += 1
    for owner, count in active:
        watch.peak_active[owner] = max(watch.peak_active[owner], count)
        if count > LIMITS[owner].max_caseload:
            watch.violations.append(f"{owner} holds {count} > {LIMITS[owner].max_caseload}")
    for owner, day, count in per_day:
        if count > LIMITS[owner].max_new_per_day:
            watch.violations.append(
                f"{owner} got {count} on {day} > {LIMITS[owner].max_new_per_day}"
            )


async def monitor(engine: AsyncEngine, watch: Watch, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await check_limits(engine, watch)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.1)


async def accept_some(
    replicas: list[ServiceProcess], secret: str, stop: asyncio.Event, tally: Counter[str]
) -> None:
    """Link workers accept the offers of even-numbered referrals, each time through a random
    replica; the others time out, and are re-offered or left for a coordinator."""
    rng = random.Random(3)
    tokens = {
        w.worker_id: issue_token(secret, Principal("link_worker", subject=w.worker_id))
        for w in WORKERS
    }
    async with httpx.AsyncClient(timeout=5.0) as client:
        while not stop.is_set():
            for worker_id, token in tokens.items():
                headers = {"Authorization": f"Bearer {token}"}
                replica = rng.choice(
                    [r for r in replicas if r.process and r.process.poll() is None]
                )
                try:
                    found = await client.get(
                        f"{replica.url}/fhir/Task",
                        params={"owner": f"PractitionerRole/{worker_id}", "status": "requested"},
                        headers=headers,
                    )
                    for entry in found.json().get("entry", []):
                        if int(entry["resource"]["id"][-1]) % 2:
                            continue
                        answer = await client.post(
                            f"{replica.url}/fhir/Task/{entry['resource']['id']}/$accept",
                            headers=headers,
                        )
                        # 404: the offer timed out and moved on meanwhile; expected, never 5xx.
                        tally[str(answer.status_code)] += 1
                except httpx.HTTPError:
                    tally["unreachable"] += 1  # the replica being killed
            await asyncio.sleep(0.3)


async def publish_referrals(stack: IsolatedStack) -> None:
    rng = random.Random(11)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        events = []
        for i in range(REFERRALS):
            referral_id = f"cc-{i:05d}"
            request = service_request(
                referral_id,
                postcode=rng.choice(POSTCODES),
                needs=(rng.choice([N.HOUSING, N.LONELINESS_ISOLATION, N.BEREAVEMENT]),),
                language="ta" if rng.random() < 0.1 else None,
                interpreter=rng.random() < 0.05,
                risk="high" if rng.random() < 0.1 else "none",
                # Some people come back: continuity with their open referral.
                episode_id=f"ep-{rng.randrange(i)}" if i and rng.random() < 0.05 else None,
            )
            envelope = Envelope.new("ServiceRequestCreated", FHIR_JSON)
            events.append((referral_id, dumps(request), envelope.to_headers()))
        events += rng.sample(events, DUPLICATES)
        sent = [
            await producer.send(stack.topics.requested, value, key=key.encode(), headers=headers)
            for key, value, headers in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def publish_roster(stack: IsolatedStack) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers)
    await producer.start()
    try:
        for worker in WORKERS:
            await producer.send_and_wait(
                stack.topics.directory,
                dumps(to_practitioner_role(worker, f"Worker {worker.worker_id}", None)),
                key=worker.worker_id.encode(),
                headers=Envelope.new("LinkWorkerPublished", FHIR_JSON).to_headers(),
            )
    finally:
        await producer.stop()


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def wait_for(
    engine: AsyncEngine,
    sql: str,
    until: Any,
    timeout: float,
    what: str,
    replicas: list[ServiceProcess],
) -> None:
    deadline = time.monotonic() + timeout
    while (value := await scalar(engine, sql)) != until:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: {value} after {timeout:.0f} s\n" + "\n".join(r.tail(15) for r in replicas)
            )
        await asyncio.sleep(0.2)


async def read_all(
    stack: IsolatedStack, topic: str, expected: int, timeout: float = 20.0
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    values: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                values.extend(loads(r.value) for r in records)
        return values
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
async def isolated(infra: Infrastructure) -> AsyncIterator[IsolatedStack]:
    run = run_id()
    # Six partitions: each of the three replicas owns two, and a kill moves real work.
    stack = await prepare(infra.kafka_bootstrap_servers, infra.database_url, run, partitions=6)
    try:
        yield stack
    finally:
        await drop_database(infra.database_url, f"hub_test_{run}")


async def test_three_replicas_keep_every_limit_through_a_crash(
    isolated: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack, started = isolated, time.monotonic()
    env = {
        **stack.env(),
        "ROUTER_OFFER_TIMEOUT_SECONDS": "2",
        "ROUTER_OFFER_SWEEP_SECONDS": "0.3",
        "ROUTER_MAX_FAILED_OFFERS": "2",
        "HUB_LOG_LEVEL": "WARNING",
    }
    logs = tmp_path_factory.mktemp("router-replicas")
    replicas = [ServiceProcess("router", env, logs) for _ in range(REPLICAS)]
    engine = create_async_engine(stack.database_url)
    watch, tally, stop = Watch(), Counter[str](), asyncio.Event()
    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))
        phases = {"replicas ready": time.monotonic() - started}
        await publish_roster(stack)
        await wait_for(
            engine,
            "select count(*) from router.link_workers",
            len(WORKERS),
            20,
            "workers",
            replicas,
        )
        watching = asyncio.create_task(monitor(engine, watch, stop))
        accepting = asyncio.create_task(accept_some(replicas, stack.auth_secret, stop, tally))
        await publish_referrals(stack)

        # SIGKILL one replica mid-stream, then bring it back.
        await wait_for(
            engine,
            f"select count(*) >= {REFERRALS // 3} from router.tasks",
            True,
            40,
            "progress",
            replicas,
        )
        phases["a third routed"] = time.monotonic() - started
        replicas[0].kill()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(replicas[0].start)
        phases["killed one, restarted it"] = time.monotonic() - started

        await wait_for(
            engine, "select count(*) from router.tasks", REFERRALS, 60, "referrals routed", replicas
        )
        phases["all routed"] = time.monotonic() - started
        # Let the last offers be accepted or run out, and the relays publish everything.
        await wait_for(
            engine,
            "select count(*) from router.tasks where business_status = 'offered'",
            0,
            30,
            "open offers",
            replicas,
        )
        await wait_for(
            engine, "select count(*) from router.outbox", 0, 20, "unpublished events", replicas
        )
        phases["offers settled, all published"] = time.monotonic() - started
        stop.set()
        await asyncio.gather(watching, accepting)
        await check_limits(engine, watch)
    finally:
        stop.set()
        for replica in replicas:
            replica.stop()
        await engine.dispose()  # the checks below reconnect as needed

    assert watch.violations == [], watch.violations[:10]
    assert watch.samples > 20
    for worker in WORKERS:
        assert watch.peak_active[worker.worker_id] <= worker.max_caseload

    # One routing decision per referral: duplicates and the crash routed nothing twice.
    assert (
        await scalar(
            engine,
            "select count(*) from (select referral_id from router.decisions where record->'trigger'->>'event'"
            " = 'referral received' group by referral_id having count(*) > 1) twice",
        )
        == 0
    )
    async with engine.connect() as conn:
        rows = await conn.execute(text("select referral_id, version from router.tasks"))
        versions: dict[str, int] = dict(rows.all())
    assert len(versions) == REFERRALS

    snapshots = await read_all(stack, stack.topics.tasks, sum(versions.values()))
    history: dict[str, dict[int, set[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(set))
    for task in snapshots:
        history[task["id"]][int(task["meta"]["versionId"])].add(
            (
                task["status"],
                task["businessStatus"]["coding"][0]["code"],
                task.get("owner", {}).get("reference"),
            )
        )
    assert set(history) == set(versions)
    for referral_id, by_version in history.items():
        # Copies of one version (a relay republishing after the kill) are identical; versions
        # run 1..n with no gap; so at every moment exactly one worker (or none) held the offer.
        assert all(len(states) == 1 for states in by_version.values()), (referral_id, by_version)
        assert sorted(by_version) == list(range(1, versions[referral_id] + 1)), (
            referral_id,
            sorted(by_version),
        )
        states = [next(iter(by_version[v])) for v in sorted(by_version)]
        owners = [owner for status, step, owner in states if step == "offered"]
        assert len(owners) == len(set(owners)), (referral_id, owners)  # never offered twice to one
        for before, after in itertools.pairwise(states):
            if after[0] == "accepted":
                assert before[1] == "offered" and before[2] == after[2], (referral_id, states)
    await engine.dispose()

    final = Counter(next(iter(h[max(h)]))[1] for h in history.values())
    elapsed = time.monotonic() - started
    print(
        f"\n{REFERRALS} referrals (+{DUPLICATES} duplicates), {REPLICAS} replicas, 1 SIGKILL: "
        f"{dict(final)}; {len(snapshots)} Task snapshots; accept answers {dict(tally)}; "
        f"{watch.samples} invariant samples, peak caseloads {dict(watch.peak_active)}; "
        + ", ".join(f"{name} at {at:.1f} s" for name, at in phases.items())
        + f"; {elapsed:.1f} s in all"
    )
