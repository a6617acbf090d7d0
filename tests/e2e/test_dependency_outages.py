"""PostgreSQL and Kafka go away and come back while the hub runs: readiness says so truthfully,
the services reconnect by themselves, and referrals sent during the outage get through."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fixtures import FIXTURES
from tests.support.infra import Infrastructure
from tests.support.kafka_io import collect, publish
from tests.support.outages import require_local
from tests.support.outages import stack as local_stack
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example, references

pytestmark = [pytest.mark.infra, pytest.mark.exclusive]


@pytest.fixture(scope="module")
def services(
    infra: Infrastructure, stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    require_local(infra)
    with running_hub(stack.env(), tmp_path_factory.mktemp("outages")) as running:
        yield running


async def readiness(process: ServiceProcess) -> dict[str, bool]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        answer = await client.get(f"{process.url}/health/ready")
    checks: dict[str, bool] = answer.json()["checks"]
    assert (answer.status_code == 200) == all(checks.values())
    return checks


async def wait_for(process: ServiceProcess, dependency: str, up: bool, seconds: float = 60) -> None:
    for _ in range(int(seconds * 2)):
        if (await readiness(process))[dependency] is up:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{process.name} never reported {dependency} {'up' if up else 'down'}")


async def tasks_for(stack: IsolatedStack, tag: str) -> None:
    wanted = set(references("community", tag))
    await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        lambda seen: (
            wanted <= {t["identifier"][1]["value"] for t in seen if len(t["identifier"]) > 1}
        ),
        timeout=120,
    )


async def test_postgresql_outage(stack: IsolatedStack, services: dict[str, ServiceProcess]) -> None:
    run_cli(stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv"))
    local_stack("pg-stop")
    try:
        for process in services.values():
            await wait_for(process, "database", up=False)
        await publish(
            stack.kafka_bootstrap_servers,
            stack.topics.inbound("community"),
            example("community", "-PG"),
            key="during-pg-outage",
        )
        await asyncio.sleep(3.0)  # intake keeps retrying the batch meanwhile
    finally:
        local_stack("pg-start")
    for process in services.values():
        await wait_for(process, "database", up=True)
    await tasks_for(stack, "-PG")


async def test_kafka_restart(stack: IsolatedStack, services: dict[str, ServiceProcess]) -> None:
    local_stack("kafka-stop")
    try:
        for process in services.values():
            await wait_for(process, "kafka", up=False)
    finally:
        local_stack("kafka-start")
    for process in services.values():
        await wait_for(process, "kafka", up=True)
    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.inbound("community"),
        example("community", "-KAFKA"),
        key="after-kafka-restart",
    )
    await tasks_for(stack, "-KAFKA")
