"""The hub under test: an isolated slice of the infrastructure and the services as processes.

The same way the end-to-end tests run it (tests/support), so the benchmark measures what the
tests prove correct: its own database (dropped afterwards) and topic prefix, and each service
a separate operating-system process, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from benchmarks.roster import write_roster
from tests.support.infra import Infrastructure
from tests.support.processes import ServiceProcess, run_cli
from tests.support.stack import IsolatedStack, drop_database, prepare, run_id


def plain_dsn(url: str) -> str:
    """asyncpg wants `postgresql://`, not SQLAlchemy's `postgresql+asyncpg://`."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class RunningHub:
    stack: IsolatedStack
    run: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        return {name: s.process.pid for name, s in self.services.items() if s.process}

    def stop_services(self) -> None:
        for service in self.services.values():
            service.stop()

    def router_log(self) -> str:
        return next(s.tail() for name, s in self.services.items() if name.startswith("router"))

    async def postgres_version(self) -> str:
        conn = await asyncpg.connect(plain_dsn(self.stack.database_url))
        try:
            return str(await conn.fetchval("show server_version"))
        finally:
            await conn.close()

    async def load_roster(self, path: Path, wait_seconds: float = 60.0) -> int:
        """Publish a roster and wait until the router has every worker in its table: a referral
        routed before that would become an "awaiting allocation" Task and skew the figures."""
        size = write_roster(path)
        await asyncio.to_thread(run_cli, self.stack.env(), "workers", "load", str(path))
        conn = await asyncpg.connect(plain_dsn(self.stack.database_url))
        try:
            deadline = asyncio.get_running_loop().time() + wait_seconds
            while await conn.fetchval("select count(*) from router.link_workers") < size:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(
                        f"the router did not apply the roster within {wait_seconds:.0f} s:\n"
                        + self.router_log()
                    )
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
        return size


@contextlib.asynccontextmanager
async def running_hub(
    infra: Infrastructure, partitions: int, replicas: int, log_dir: Path
) -> AsyncIterator[RunningHub]:
    """Prepare the slice, start intake, `replicas` routers and the notifier; clean up after."""
    run = run_id()
    stack = await prepare(
        infra.kafka_bootstrap_servers, infra.database_url, run, partitions=partitions
    )
    hub = RunningHub(stack, run)
    try:
        env = stack.env()
        routers = ["router"] if replicas == 1 else [f"router-{n + 1}" for n in range(replicas)]
        for name in ["intake", *routers, "notifier"]:
            # Keyed by its own name, so each replica gets its own CPU and memory figures.
            hub.services[name] = ServiceProcess(name.split("-")[0], dict(env), log_dir)
        notifier = hub.services["notifier"]
        # The referrers' webhook is the harness's plain-http loopback server, as in the tests
        # (tests/support/notifier_setup.py); links in notifications point at this notifier.
        notifier.env.update(NOTIFIER_ALLOW_HTTP_ENDPOINTS="true", NOTIFIER_PUBLIC_URL=notifier.url)
        # Started one by one: readiness polling is blocking, and parallel starts on two cores
        # only slow each other down.
        for service in hub.services.values():
            await asyncio.to_thread(service.start)
        yield hub
    finally:
        hub.stop_services()
        await drop_database(infra.database_url, f"hub_test_{run}")
        await delete_topics(infra.kafka_bootstrap_servers, stack.topic_prefix)


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Remove this run's topics from the shared broker (the hub's and the relay's)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
