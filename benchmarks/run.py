"""`make bench` (`python -m benchmarks.run`): the hub end to end, then two ceilings, one run.

1. Kafka and PostgreSQL as the tests find them; an isolated database and topic prefix.
2. intake, `--replicas` routers and the notifier as separate processes; a roster whose
   capacity never binds; every agency of the load subscribed (rest-hook) to a webhook served
   by the harness itself, which times each referral's first notification.
3. A warm-up (consumer groups settle, connections open); `--idle-seconds` with no load at all
   (what waiting for work costs); `--trickle-seconds` at each of `--trickle-rates` (a real
   region's pace: CPU per referral and latency); then `--referrals` at `--rate` referrals/s,
   then `--referrals` more as fast as the producer can (saturation).
4. The services stopped, the same messages through the raw three-hop relay, then through the
   durable one (inbox, outbox and offsets as the hub keeps them: benchmarks/relay.py), same
   two phases (the trickle and the idle measure the hub only).
5. With `--history 0,100000,1000000` (issue 18, growth), before the services stop: for each
   level, history seeded up to that many referrals (`benchmarks/seed_history.py`), then
   `--referrals` more at saturation; the curve, throughput against referrals recorded, goes
   into the JSON, the chart and the summary.
6. With `--scaling`: the router with 1, 2 and 3 replicas and one outbox relay's ceiling
   (`benchmarks/scaling.py`, also `make bench-scaling` alone), on a slice of its own.
7. JSON and a PNG chart in `--out`, and a summary on stdout. Goals are reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from benchmarks import report, scaling, seed_history
from benchmarks.hub import RunningHub, plain_dsn, running_hub
from benchmarks.load import Inbound, generate
from benchmarks.measure import (
    Collector,
    DatabaseCounter,
    HubObserver,
    ProcessSampler,
    RelayObserver,
    cpu_speed_ms,
    machine_busy,
    now_ms,
)
from benchmarks.phases import Phase, measure_idle, run_phase
from benchmarks.relay import RelayChain, create_topics, relay_topics
from benchmarks.subscribers import agencies_of, subscribe_all
from benchmarks.webhook import WebhookReceiver
from tests.support.infra import infrastructure

WARM_UP = "warm_up"
GROWTH_PHASE = "history_"  # a growth phase's name: this prefix and the referrals recorded
WARM_UP_RATE = 50.0  # gentle: the point is joined groups and warm connections, not load
HANDSHAKE_WAIT_SECONDS = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark the referral hub end to end against a raw Kafka relay.",
    )
    parser.add_argument("--referrals", type=int, default=600, help="referrals per measured phase")
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="offered referrals/s of the fixed-rate phase (issue 18's latency goals are at 100)",
    )
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    parser.add_argument("--replicas", type=int, default=1, help="router processes")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="results folder")
    parser.add_argument("--warm-up", type=int, default=100, help="referrals before measuring")
    parser.add_argument("--seed", type=int, default=1, help="load generator seed")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=30.0,
        help="give a phase up after this long without progress",
    )
    parser.add_argument(
        "--status-grace",
        type=float,
        default=3.0,
        help="seconds to wait for referrer notifications after the last Task (or notification)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=20.0,
        help="seconds with no load after the warm-up, to measure what idling costs (0: skip)",
    )
    parser.add_argument(
        "--trickle-rates",
        type=float,
        nargs="*",
        default=[5.0, 25.0],
        help="offered referrals/s of the trickle phases (none: skip them)",
    )
    parser.add_argument(
        "--trickle-seconds",
        type=float,
        default=30.0,
        help="seconds each trickle phase publishes for",
    )
    parser.add_argument(
        "--history",
        type=levels,
        default=[],
        metavar="N,N,...",
        help="then saturation again with this many historical referrals recorded, each level "
        "seeded before its phase (e.g. 0,100000,1000000): throughput against history",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="then the router with 1, 2 and 3 replicas, and one outbox relay's ceiling",
    )
    args = parser.parse_args(argv)
    for name in ("referrals", "partitions", "replicas"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.rate <= 0 or any(rate <= 0 for rate in args.trickle_rates):
        parser.error("--rate and --trickle-rates must be above zero")
    if args.replicas > args.partitions:
        print(
            f"note: {args.replicas} routers share {args.partitions} partitions; "
            "the extra replicas will idle",
            file=sys.stderr,
        )
    return args


def levels(text: str) -> list[int]:
    """`0,100000,1000000`: rising counts of historical referrals."""
    try:
        counts = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not counts or any(c < 0 for c in counts) or counts != sorted(set(counts)):
        raise argparse.ArgumentTypeError("levels must be rising counts, at least 0")
    return counts


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


async def subscribe_referrers(
    hub: RunningHub, phases: list[Phase], receiver: WebhookReceiver
) -> int:
    """Every agency of the load subscribes its webhook (the harness's receiver); returns once
    each subscription's handshake has arrived, so none lands inside a measured phase."""
    organisations = agencies_of(message for phase in phases for message in phase.messages)
    count = await subscribe_all(
        hub.services["notifier"].url, hub.stack.auth_secret, organisations, receiver.url
    )
    deadline = asyncio.get_running_loop().time() + HANDSHAKE_WAIT_SECONDS
    while receiver.handshakes < count:
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(
                f"only {receiver.handshakes} of {count} subscription handshakes arrived within "
                f"{HANDSHAKE_WAIT_SECONDS:.0f} s"
            )
        await asyncio.sleep(0.2)
    return count


async def measure_hub(
    hub: RunningHub,
    phases: list[Phase],
    args: argparse.Namespace,
    producer: AIOKafkaProducer,
    before: Callable[[Phase], Awaitable[None]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Warm-up, fixed rate and saturation through the hub (and the growth phases, `before`
    seeding each one's history): figures per measured phase, and what the referrers' webhook
    received."""
    topics = hub.stack.topics
    observer = HubObserver(
        topics.requested,
        topics.tasks,
        topics.rejected,
        # No status topics: each agency's is its own, made when first published to, and the
        # harness's agencies subscribe by rest-hook (the webhook receiver below).
        [],
    )
    receiver = await WebhookReceiver(observer.mark_notified, now_ms).start()
    figures: dict[str, Any] = {}
    try:
        subscriptions = await subscribe_referrers(hub, phases, receiver)
        say(f"{subscriptions} agencies subscribed (rest-hook) to {receiver.url}")
        sampler = ProcessSampler({**hub.pids(), "harness": os.getpid()})
        database = DatabaseCounter(plain_dsn(hub.stack.database_url))
        async with Collector(hub.stack.kafka_bootstrap_servers, observer):
            for phase in phases:
                if before:
                    await before(phase)
                await run_phase(
                    phase,
                    observer=observer,
                    producer=producer,
                    topic_of=topics.inbound,
                    sampler=sampler,
                    database=database,
                    stall_seconds=args.stall_seconds,
                    status_grace=args.status_grace,
                )
                figures[phase.name] = report.hub_figures(phase, observer)
                if phase.name == WARM_UP and args.idle_seconds > 0:
                    figures["idle"] = report.idle_figures(
                        *await measure_idle(sampler, args.idle_seconds, database)
                    )
    finally:
        await receiver.stop()
    referrers = report.referrer_facts(subscriptions, receiver.requests, receiver.handshakes)
    return figures, referrers


async def measure_relay(
    hub: RunningHub,
    phases: list[Phase],
    args: argparse.Namespace,
    producer: AIOKafkaProducer,
    log_dir: Path,
    *,
    durable: bool = False,
) -> dict[str, Any]:
    """The same phases, same messages, through the raw relay, or the durable one (the
    services are stopped)."""
    bootstrap = hub.stack.kafka_bootstrap_servers
    kind = "durable" if durable else "raw"
    names = relay_topics(hub.stack.topic_prefix, kind)
    await create_topics(bootstrap, names, args.partitions)
    dsn = plain_dsn(hub.stack.database_url)
    chain = RelayChain(
        bootstrap, names, f"{hub.stack.topic_prefix}{kind}.", log_dir, dsn if durable else None
    )
    await asyncio.to_thread(chain.start)
    figures: dict[str, Any] = {}
    try:
        observer = RelayObserver(names[1:])
        sampler = ProcessSampler({**chain.pids(), "harness": os.getpid()})
        async with Collector(bootstrap, observer):
            for phase in phases:
                relayed = Phase(f"{kind} {phase.name}", phase.messages, phase.rate)
                await run_phase(
                    relayed,
                    observer=observer,
                    producer=producer,
                    topic_of=lambda _source: names[0],
                    sampler=sampler,
                    stall_seconds=args.stall_seconds,
                    status_grace=0,
                    database=DatabaseCounter(dsn) if durable else None,
                )
                figures[phase.name] = report.relay_figures(relayed, observer)
    finally:
        chain.stop()
    return figures


def plan(args: argparse.Namespace, run: str) -> list[Phase]:
    """The phases, each with its own referrals (unique references, so each is new to the hub)."""

    def load(count: int, tag: str) -> list[Inbound]:
        return generate(count, f"{run}{tag}", args.seed)

    return [
        Phase(WARM_UP, load(args.warm_up, "w"), WARM_UP_RATE),
        *(
            Phase(
                report.trickle_phase(rate), load(round(rate * args.trickle_seconds), f"t{n}"), rate
            )
            for n, rate in enumerate(args.trickle_rates)
        ),
        Phase("fixed_rate", load(args.referrals, "f"), args.rate),
        Phase("saturation", load(args.referrals, "s"), None),
    ]


def growth_plan(args: argparse.Namespace, run: str) -> list[Phase]:
    """A saturation phase per `--history` level, each with referrals of its own."""
    return [
        Phase(f"{GROWTH_PHASE}{level}", generate(args.referrals, f"{run}h{n}", args.seed), None)
        for n, level in enumerate(args.history)
    ]


class HistorySeeder:
    """Before each growth phase, records history up to its level (the services keep running,
    idle, as a hub with years behind it would), and notes how long the seeding took."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.recorded = 0
        self.seconds: dict[str, float] = {}

    async def __call__(self, phase: Phase) -> None:
        if not phase.name.startswith(GROWTH_PHASE):
            return
        level = int(phase.name.removeprefix(GROWTH_PHASE))
        if level > self.recorded:
            say(f"recording history: {self.recorded:,} → {level:,} referrals")
            done = await seed_history.seed(self.database_url, level - self.recorded)
            self.seconds[phase.name] = done["seconds"]
            self.recorded = done["recorded"]


def growth(figures: dict[str, Any], seeder: HistorySeeder) -> list[dict[str, Any]]:
    """The curve: for each level, the referrals recorded and that phase's throughput."""
    return [
        {
            "referrals_recorded": int(name.removeprefix(GROWTH_PHASE)),
            "seed_seconds": seeder.seconds.get(name, 0.0),
            "complete": phase["complete"],
            "throughput_per_s": phase["throughput_per_s"],
        }
        for name, phase in figures.items()
        if name.startswith(GROWTH_PHASE)
    ]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC)
    log_dir = args.out / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    say("finding Kafka and PostgreSQL (as the tests do)")
    with infrastructure() as infra:
        busy_before = await machine_busy()
        speed_before = cpu_speed_ms()
        say(f"infrastructure: {infra.origin}; starting the services (logs: {log_dir})")
        async with running_hub(infra, args.partitions, args.replicas, log_dir) as hub:
            workers = await hub.load_roster(log_dir / "roster.csv")
            say(f"{', '.join(hub.services)} running; {workers} link workers loaded")
            phases = plan(args, hub.run)
            hub_only = {report.trickle_phase(rate) for rate in args.trickle_rates}
            seeder = HistorySeeder(hub.stack.database_url)
            producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
            await producer.start()
            try:
                hub_figures, referrers = await measure_hub(
                    hub, phases + growth_plan(args, hub.run), args, producer, seeder
                )
                postgres = await hub.postgres_version()
                hub.stop_services()
                say("services stopped; the same messages through the raw relay")
                # The trickle is the hub's own question (CPU while waiting): not the relays'.
                relayed = [phase for phase in phases if phase.name not in hub_only]
                raw_figures = await measure_relay(hub, relayed, args, producer, log_dir)
                say("the same messages through the durable relay (inbox, outbox, offsets)")
                durable_figures = await measure_relay(
                    hub, relayed, args, producer, log_dir, durable=True
                )
            finally:
                await producer.stop()
            origin, run = infra.origin, hub.run
        scaled = None
        if args.scaling:
            say("scaling: the router with 1, 2 and 3 replicas, then one relay alone")
            scaled = await scaling.measure(
                infra,
                argparse.Namespace(
                    referrals=args.referrals,
                    replica_counts=[1, 2, 3],
                    relay_rows=scaling.RELAY_ROWS,
                    partitions=args.partitions,
                    seed=args.seed,
                ),
                log_dir,
            )
        speed_after = cpu_speed_ms()
    measured = ("fixed_rate", "saturation")
    trickle = {
        report.trickle_phase(rate): hub_figures[report.trickle_phase(rate)]
        for rate in args.trickle_rates
    }
    headline = report.headline(
        hub_figures["saturation"], raw_figures["saturation"], durable_figures["saturation"]
    )
    return {
        "run": {
            "id": run,  # the database hub_test_<id> and topic prefix t<id>. it used
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "hops": {
                name: {"hub": hub_, "raw": raw_} for name, (hub_, raw_) in report.HOPS.items()
            },
            "notes": "Times are Kafka record timestamps (ms); the harness shares the machine "
            "with the services and its own CPU is reported as 'harness'.",
        },
        "machine": {
            **report.machine_facts(origin, postgres),
            "busy_before_run_percent": busy_before,
            "cpu_speed_ms": {"start": speed_before, "end": speed_after},
        },
        "hub": {name: hub_figures[name] for name in (*measured, *trickle)},
        **({"idle": hub_figures["idle"]} if "idle" in hub_figures else {}),
        "trickle": report.trickle_figures(trickle, hub_figures["saturation"]),
        "referrers": referrers,
        "warm_up": hub_figures["warm_up"],
        "raw_relay": {name: raw_figures[name] for name in measured},
        "durable_relay": {name: durable_figures[name] for name in measured},
        "headline": headline,
        "goals": report.goals(hub_figures, headline),
        **({"growth": growth(hub_figures, seeder)} if args.history else {}),
        **({"scaling": scaled} if scaled else {}),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(bench(args))
    stamp = result["run"]["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = args.out / f"bench-{stamp}.json"
    png_path = json_path.with_suffix(".png")
    previous = report.previous_result(args.out, json_path)
    report.write_json(result, json_path)
    report.write_chart(result, png_path)
    print(report.summary(result, previous))
    if "scaling" in result:
        print("\n" + scaling.summary(result["scaling"]))
    print(f"\nwrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
