"""Pieces of the chaos test: the load (every agency format, good and bad), the faults, and the
link workers who accept offers while everything around them breaks."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub_common.fhir.needs import NeedCategory
from hub_common.security.auth import Principal, issue_token
from tests.support.outages import stack as local_stack
from tests.support.processes import ServiceProcess
from tests.support.variants import EXAMPLES, example, references, without_consent

POISON = [b"{not json at all", b"[1, 2, 3]", bytes(range(256)), b"", b'{"form_id": 42}']

# Two workers per borough the examples live in: one whose limits bind early (so the test
# proves they hold under faults), one with room for the rest (so nearly everything is offered).
TIGHT = {"max_caseload": 25, "max_new_per_day": 10}
ROOMY = {"max_caseload": 5000, "max_new_per_day": 5000}
BOROUGHS = {
    "Croydon": "CR0;CR7",
    "Merton": "SM4",
    "Wandsworth": "SW18",
}
ALL_DAYS = "Mon;Tue;Wed;Thu;Fri;Sat;Sun"
ROSTER_HEADER = (
    "worker_id,name,email,boroughs,postcode_districts,needs,languages,max_caseload,"
    "max_new_per_day,working_days,leave_from,leave_to,risk_cleared,active"
)


@dataclass(frozen=True)
class Worker:
    worker_id: str
    max_caseload: int
    max_new_per_day: int


def roster() -> list[Worker]:
    workers = []
    for borough in BOROUGHS:
        workers.append(Worker(f"lw-{borough.lower()}-tight", **TIGHT))
        workers.append(Worker(f"lw-{borough.lower()}-roomy", **ROOMY))
    return workers


def write_roster(folder: Path) -> Path:
    lines = [ROSTER_HEADER]
    for worker, (borough, districts) in zip(
        roster(), [b for b in BOROUGHS.items() for _ in range(2)], strict=True
    ):
        # The tight workers match every need, so they win first and their limits do bind.
        needs = ";".join(NeedCategory) if worker.max_caseload < 100 else ""
        lines.append(
            f"{worker.worker_id},Chaos Worker,{worker.worker_id}@example.org,{borough},{districts},"
            f"{needs},en,{worker.max_caseload},{worker.max_new_per_day},{ALL_DAYS},,,Y,Y"
        )
    path = folder / "chaos-roster.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Load:
    """What one run publishes, and what it therefore expects to find afterwards."""

    messages: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)  # by source
    accepted: set[str] = field(default_factory=set)  # referrer references
    # (source, bytes, item): intake records one rejection per refused item (a housing file
    # holds two) of each distinct input: a redelivered bad message cannot be told from the
    # same bytes sent again.
    refused: set[tuple[str, bytes, int]] = field(default_factory=set)
    poison: int = 0

    @property
    def rejected_inputs(self) -> int:
        return len(self.refused)

    def add(self, source: str, key: str, body: bytes) -> None:
        self.messages.setdefault(source, []).append((key, body))


def wave(number: int, per_source: int) -> Load:
    """`per_source` fresh referrals of every format, one poison message and two referrals
    refused for want of consent; references tagged with the wave so none repeats."""
    load = Load()
    for source in sorted(EXAMPLES):
        for index in range(per_source):
            tag = f"-X{number:02d}{index:03d}"
            load.add(source, references(source, tag)[0], example(source, tag))
            load.accepted.update(references(source, tag))
    sources = sorted(EXAMPLES)
    for refused in range(2):
        source = sources[(number * 2 + refused) % len(sources)]
        tag = f"-N{number:02d}{refused}"
        body = without_consent(source, tag)
        load.add(source, references(source, tag)[0], body)
        load.refused.update((source, body, item) for item in range(len(references(source))))
    poison_source = sources[number % len(sources)]
    # Keyed like a good referral of the wave: it sits on a partition with work behind it.
    poison = POISON[number % len(POISON)]
    load.add(poison_source, references(poison_source, f"-X{number:02d}000")[0], poison)
    load.refused.add((poison_source, poison, 0))
    load.poison += 1
    return load


@dataclass(frozen=True)
class Fault:
    """One thing that goes wrong: SIGKILL of services, or a restart of Kafka or PostgreSQL."""

    name: str
    kill: tuple[str, ...] = ()
    restart: str | None = None  # "kafka" or "pg"

    async def inject(self, services: dict[str, ServiceProcess], rng: random.Random) -> None:
        if self.restart:
            await asyncio.to_thread(local_stack, f"{self.restart}-stop")
            await asyncio.sleep(rng.uniform(1.0, 4.0))  # down long enough to be noticed
            await asyncio.to_thread(local_stack, f"{self.restart}-start")
            return
        for name in self.kill:
            services[name].kill()
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        for name in self.kill:
            await asyncio.to_thread(services[name].start, 120.0)


def faults(rng: random.Random) -> list[Fault]:
    """Every service killed at least twice (once together), each dependency restarted, in a
    seeded random order."""
    plan = [
        Fault("kill intake", kill=("intake",)),
        Fault("kill router", kill=("router",)),
        Fault("kill notifier", kill=("notifier",)),
        Fault("restart Kafka", restart="kafka"),
        Fault("restart PostgreSQL", restart="pg"),
        Fault("kill intake", kill=("intake",)),
        Fault("kill router", kill=("router",)),
        Fault("kill notifier", kill=("notifier",)),
        Fault("kill every service", kill=("intake", "router", "notifier")),
    ]
    rng.shuffle(plan)
    return plan


@dataclass
class Acceptor:
    """The tight workers accept their offers over HTTP as they arrive, through every fault:
    it gives referrals a second Task version (a status the referrer must hear about)."""

    router: ServiceProcess
    secret: str
    workers: list[str]
    wanted: Callable[[dict[str, object]], bool]
    accepted: int = 0
    refused_by_outage: int = 0
    answers: Counter[int] = field(default_factory=Counter)  # status codes the router gave

    async def run(self, stop: asyncio.Event) -> None:
        tokens = {
            w: issue_token(self.secret, Principal("link_worker", subject=w)) for w in self.workers
        }
        async with httpx.AsyncClient(timeout=5.0) as client:
            while not stop.is_set():
                for worker, token in tokens.items():
                    await self._accept_offers(client, worker, token)
                await asyncio.sleep(0.5)

    async def _accept_offers(self, client: httpx.AsyncClient, worker: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            found = await client.get(
                f"{self.router.url}/fhir/Task",
                params={"owner": f"PractitionerRole/{worker}", "business-status": "offered"},
                headers=headers,
            )
            self.answers[found.status_code] += 1
            if found.status_code != 200:
                self.refused_by_outage += 1
                return
            for entry in found.json().get("entry", []):
                task = entry["resource"]
                if not self.wanted(task):
                    continue
                answer = await client.post(
                    f"{self.router.url}/fhir/Task/{task['id']}/$accept", headers=headers
                )
                self.answers[answer.status_code] += 1
                if answer.status_code == 200:
                    self.accepted += 1
        except httpx.HTTPError:
            self.refused_by_outage += 1  # the router is down or restarting: try again later
