"""Every hot-path statement's time and plan on one database: which of them grow with history.

`make bench --history` shows *that* throughput falls as history grows; this shows *which*
statements cost more. It runs the services' own use cases in-process, in batches, as their
consumers would: intake's `receive_batch` on the load generator's messages, the router's
`route_batch` on what intake recorded, the notifier's `record_requests` then `record_tasks`
(offered, allocated, first contact), the delivery worker's claims and settles until nothing is
due, and the router's and notifier's periodic sweeps once a batch. PostgreSQL's `auto_explain`
(loaded in the probe's own sessions only, reporting at NOTICE level, so nothing reaches the
server's log) sends back each statement's plan, with its actual rows, buffers and time.

    python -m tests.support.history_probe --database-url URL_OF_A_SCRATCH_COPY

Run it on two databases migrated alike, one empty and one with `seed_history` behind it, and
compare. It WRITES to the database it probes (referrals, Tasks, people, deliveries, a live
subscription `probe-…`): give it a copy made for the purpose, never a hub in use. The first
batch warms caches and is not counted; times are EXPLAIN ANALYZE's, which adds its own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.load import FAMILY, GIVEN, People, generate
from benchmarks.roster import write_roster
from hub_common.fhir.systems import AGENCY_ID_SYSTEM, NHS_NUMBER_SYSTEM
from hub_common.messaging.topics import Topics
from hub_common.storage.db import make_engine, make_session_factory
from hub_intake.adapters.formats import registered_formats
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService
from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.delivery_store import DeliveryStore
from hub_notifier.domain.retry import RetryPolicy
from hub_notifier.service_layer.notifying import Announcer
from hub_notifier.service_layer.subscribing import SubscriptionService
from hub_notifier.service_layer.tracking import TrackingService
from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.adapters.roster_file import read_roster
from hub_router.config import RouterSettings
from hub_router.service_layer.onward import AnswerDeadlines, OnwardReferrals
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.sla import SlaSweep
from tests.support.notifier_setup import STEPS, organisation, service_request, task_versions

TASK_STEPS = (0, 1, 4)  # offered, allocated, first contact made (STEPS["completed"])
AUTO_EXPLAIN = (
    "auto_explain.log_min_duration = 0",
    "auto_explain.log_analyze = on",
    "auto_explain.log_buffers = on",
    "auto_explain.log_level = 'notice'",
    "auto_explain.log_nested_statements = on",
)
# A plan message: its duration, then the statement (often several lines), then the plan, whose
# first line is the top node with its estimated cost.
PLAN = re.compile(
    r"duration: ([\d.]+) ms\s+plan:\s*\nQuery Text: (.*?)\n(\S[^\n]*\(cost=\d.*)", re.S
)


@dataclass
class Explained:
    """The plans PostgreSQL sent back, kept while `counting`."""

    counting: bool = False
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    plans: dict[str, str] = field(default_factory=dict)

    def heard(self, message: str) -> None:
        found = PLAN.search(message)
        if self.counting and found:
            statement = " ".join(found.group(2).split())[:150]
            self.times[statement].append(float(found.group(1)))
            self.plans[statement] = f"{found.group(2)}\n{found.group(3)}"

    def watch(self, engine: AsyncEngine) -> None:
        """Every new connection of `engine` explains its statements to `heard`."""

        async def explain_all(conn: Any) -> None:
            await conn.execute("LOAD 'auto_explain'")
            for setting in AUTO_EXPLAIN:
                await conn.execute(f"SET {setting}")
            conn.add_log_listener(lambda _conn, message: self.heard(message.message))

        def connected(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.run_async(explain_all)

        event.listen(engine.sync_engine, "connect", connected)

    def report(self) -> list[str]:
        ranked = sorted(self.times.items(), key=lambda item: -statistics.median(item[1]))
        return [f"{statistics.median(ms):9.2f} ms  x{len(ms):<4d} {s}" for s, ms in ranked]


def person_request(people: People, referral_id: str, org: dict[str, str]) -> dict[str, Any]:
    """A ServiceRequest about a random person, half of them with an NHS number."""
    request = service_request(referral_id, org, postcode=people.postcode())
    patient = request["contained"][0]
    number = people.nhs(0.5)
    patient["identifier"] = [{"system": NHS_NUMBER_SYSTEM, "value": number}] if number else []
    patient["name"] = [{"family": people.rng.choice(FAMILY), "given": [people.rng.choice(GIVEN)]}]
    patient["birthDate"] = people.birth_date().isoformat()
    patient["telecom"] = [{"system": "phone", "value": people.phone()}]
    return request


class Probe:
    """The three services' use cases on one engine, a batch at a time."""

    def __init__(self, engine: AsyncEngine, roster: Path, seed: int) -> None:
        sessions = make_session_factory(engine)
        topics, clock = Topics(), lambda: datetime.now(UTC)
        router = RouterSettings()
        self.engine = engine
        self.roster = roster
        self.seed = seed
        # The probe's referrer, its own each run: its one live webhook hears every change.
        self.run = uuid.uuid4().hex[:8]
        self.org = organisation(AGENCY_ID_SYSTEM, f"community:history-probe-{self.run}")
        self.people = People(random.Random(seed), date.today())
        self.intake = IntakeService(sessions, registered_formats(), topics)
        self.routing = RoutingService(sessions, topics)
        self.sla = SlaSweep(sessions, topics, router.sla_policy)
        self.onward = OnwardReferrals(
            sessions,
            topics,
            deadlines=AnswerDeadlines(
                router.onward_answer_working_days, router.onward_answer_working_days_by_service
            ),
        )
        announcer = Announcer(topics, "http://notifier.probe", "hub@probe.example", clock)
        self.tracking = TrackingService(sessions, announcer)
        self.subscriptions = SubscriptionService(sessions, "http://notifier.probe", clock)
        self.deliveries = DeliveryStore(
            engine, RetryPolicy(), clock=clock, max_events_per_notification=10
        )

    async def prepare(self) -> None:
        """The load generator's link workers, and a live webhook for the probe's referrer."""
        write_roster(self.roster)
        for entry in read_roster(self.roster):
            role = to_practitioner_role(entry.worker, entry.name, entry.email)
            await self.routing.apply_directory_entry(entry.worker.worker_id, role)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "insert into notifier.subscriptions (subscription_id, requester_org, status,"
                    " channel, endpoint, secret, filter_criteria, reason) values (:id,"
                    " :org, 'active', 'rest-hook', 'https://probe.example/hook', 'probe',"
                    " 'Task', 'history probe') on conflict do nothing"
                ),
                {"id": f"probe-{self.run}", "org": f"{self.org['system']}|{self.org['value']}"},
            )

    async def batch(self, size: int) -> None:
        tag = uuid.uuid4().hex[:10]
        now = datetime.now(UTC)
        messages = generate(size, tag, self.seed)
        results = await self.intake.receive_batch(
            [ReceiveReferrals(source=m.source, body=m.body, received_at=now) for m in messages]
        )
        accepted = [
            outcome.resource
            for result in results
            if isinstance(result, list)
            for outcome in result
            if outcome.status == "accepted" and outcome.resource is not None
        ]
        await self.routing.route_batch([(sr, str(uuid.uuid4()), None) for sr in accepted])
        ids = [f"probe-{tag}-{n}" for n in range(size)]
        await self.tracking.record_requests(
            [(person_request(self.people, rid, self.org), str(uuid.uuid4())) for rid in ids]
        )
        for step in TASK_STEPS:
            versions = [task_versions(rid, self.org, STEPS["completed"][: step + 1]) for rid in ids]
            await self.tracking.record_tasks(
                [(tasks[step], str(uuid.uuid4()), None) for tasks in versions]
            )
            while claimed := await self.deliveries.claim(size, timedelta(seconds=30)):
                await self.deliveries.settle_many([(c, Attempt(ok=True)) for c in claimed])
        await self.routing.expire_overdue_offers(50)
        await self.sla.sweep(100)
        await self.onward.sweep(100)
        await self.subscriptions.send_heartbeats()


async def probe(database_url: str, batches: int, size: int, seed: int) -> Explained:
    explained = Explained()
    engine = make_engine(database_url, pool_size=2)
    explained.watch(engine)
    try:
        with TemporaryDirectory() as folder:
            runner = Probe(engine, Path(folder) / "roster.csv", seed)
            await runner.prepare()
            for n in range(batches + 1):
                explained.counting = n > 0  # the first batch warms the caches
                await runner.batch(size)
    finally:
        await engine.dispose()
    return explained


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.history_probe",
        description="Time and explain every hot-path statement of the hub on one database "
        "(it writes to it: use a scratch copy), to compare an empty one with a seeded history.",
    )
    parser.add_argument("--database-url", required=True, help="a migrated scratch database")
    parser.add_argument("--batches", type=int, default=6, help="batches measured (after one)")
    parser.add_argument("--batch", type=int, default=50, help="referrals a batch")
    parser.add_argument("--seed", type=int, default=7, help="load generator seed")
    parser.add_argument("--plans", type=Path, help="write every statement's last plan here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    explained = asyncio.run(probe(args.database_url, args.batches, args.batch, args.seed))
    print("\n".join(explained.report()))
    if args.plans:
        args.plans.write_text(
            "\n\n".join(f"==== {s}\n{plan}" for s, plan in explained.plans.items()),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
