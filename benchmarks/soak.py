"""`make soak` (`python -m benchmarks.soak`): a steady offered load for a long time, watching
what only time shows: consumer lag that creeps up, memory that grows, errors that appear.

The real stack as `make bench` runs it (Kafka, PostgreSQL, the three services as processes,
a webhook receiver subscribed for the agencies). Every `--sample-seconds` it records each hub
consumer group's lag (messages behind the end of its topics), each service's resident memory
and CPU, and the ERROR lines in the services' logs. At the end it judges:

- lag bounded: in the second half, no group is ever more than `--max-lag-seconds` of offered
  traffic behind;
- memory flat: no service grew more than `--max-rss-growth-mb` from the end of the first
  quarter (warm caches, pools full) to the end;
- no error: not one ERROR line in any service's log.

Writes `soak-<time>.json` to `--out` and exits 1 when a judgement fails. A short run is part of
`make test` (tests/e2e/test_soak_short.py); the ten-minute one is `make soak`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.hub import RunningHub, running_hub
from benchmarks.load import Inbound, generate
from benchmarks.subscribers import agencies_of, subscribe_all
from benchmarks.webhook import WebhookReceiver
from tests.support.infra import Infrastructure, infrastructure

CHUNK_SECONDS = 5  # referrals are generated a few seconds ahead, never all held in memory
AGENCY_SAMPLE = 3000  # referrals generated up front to learn the agencies to subscribe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description="Hold a steady load on the referral hub and check lag, memory and errors.",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="offered referrals/s")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to hold it")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="between samples")
    parser.add_argument("--max-lag-seconds", type=float, default=10.0)
    parser.add_argument("--max-rss-growth-mb", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1, help="load generator seed")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="results folder")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.minutes <= 0 or args.sample_seconds <= 0:
        parser.error("--rate, --minutes and --sample-seconds must be above zero")
    return args


def say(text: str) -> None:
    print(f"[soak] {text}", file=sys.stderr, flush=True)


@dataclass
class Sample:
    at_seconds: float
    sent: int
    lag: dict[str, int]  # consumer group (without the run's prefix) -> messages behind
    rss_mb: dict[str, float]
    cpu_percent: dict[str, float]
    errors: int

    def line(self, duration: float) -> str:
        lag = " ".join(f"{group}={behind}" for group, behind in sorted(self.lag.items()))
        rss = " ".join(f"{name}={mb:.0f}" for name, mb in self.rss_mb.items())
        return (
            f"{self.at_seconds:5.0f}/{duration:.0f} s  sent {self.sent}  lag {lag}  "
            f"RSS MB {rss}  errors {self.errors}"
        )


@dataclass
class LagReader:
    """Messages each of the run's consumer groups has still to read, from committed offsets."""

    bootstrap: str
    prefix: str
    _admin: AIOKafkaAdminClient | None = None
    _ends: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> LagReader:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await self._admin.start()
        self._ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self._ends.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ends:
            await self._ends.stop()
        if self._admin:
            await self._admin.close()

    async def read(self) -> dict[str, int]:
        assert self._admin and self._ends
        groups = [
            str(group[0])
            for group in await self._admin.list_consumer_groups()
            if str(group[0]).startswith(self.prefix)
        ]
        lag: dict[str, int] = {}
        for group in groups:
            committed = await self._admin.list_consumer_group_offsets(group)
            partitions = list(committed)
            if not partitions:
                continue
            ends = await self._ends.end_offsets(partitions)
            lag[group.removeprefix(self.prefix)] = sum(
                max(0, ends[tp] - max(offset.offset, 0)) for tp, offset in committed.items()
            )
        return lag


def error_lines(log_dir: Path) -> int:
    count = 0
    for log in log_dir.glob("*.log"):
        with log.open(errors="replace") as lines:
            count += sum(1 for line in lines if is_error_line(line))
    return count


def is_error_line(line: str) -> bool:
    """An ERROR or CRITICAL record: JSON lines (the services' default) by their `level`, text
    lines (HUB_LOG_FORMAT=text) by the level word after the service's name."""
    try:
        record = json.loads(line)
    except ValueError:
        return " ERROR " in line or " CRITICAL " in line
    return isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL")


def usage(hub: RunningHub) -> tuple[dict[str, float], dict[str, float]]:
    rss, cpu = {}, {}
    for name, pid in hub.pids().items():
        try:
            process = psutil.Process(pid)
            rss[name] = process.memory_info().rss / 2**20
            cpu[name] = process.cpu_percent(interval=None)
        except psutil.NoSuchProcess:
            rss[name], cpu[name] = 0.0, 0.0
    return rss, cpu


async def publish_steadily(
    producer: AIOKafkaProducer,
    hub: RunningHub,
    rate: float,
    seconds: float,
    seed: int,
    sent: list[int],
) -> None:
    """Open loop: every referral is due at its planned moment, whatever the hub is doing."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    planned = 0
    chunk = 0
    while planned < rate * seconds:
        count = int(min(rate * CHUNK_SECONDS, rate * seconds - planned)) or 1
        messages: list[Inbound] = generate(count, f"{hub.run}s{chunk}", seed)
        chunk += 1
        for message in messages:
            delay = start + planned / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await producer.send(
                hub.stack.topics.inbound(message.source), message.body, key=message.key.encode()
            )
            planned += len(message.references)
            sent[0] = planned
    await producer.flush()


def judge(samples: list[Sample], args: argparse.Namespace) -> dict[str, Any]:
    """The three verdicts, each with the figures it rests on."""
    second_half = [s for s in samples if s.at_seconds >= samples[-1].at_seconds / 2] or samples
    worst_lag = max((max(s.lag.values(), default=0) for s in second_half), default=0)
    lag_bound = args.rate * args.max_lag_seconds
    settled = next((s for s in samples if s.at_seconds >= samples[-1].at_seconds / 4), samples[0])
    growth = {
        name: round(samples[-1].rss_mb.get(name, 0.0) - settled.rss_mb.get(name, 0.0), 1)
        for name in samples[-1].rss_mb
    }
    errors = samples[-1].errors
    verdicts = {
        "lag_bounded": {
            "passed": worst_lag <= lag_bound,
            "worst_lag_second_half": worst_lag,
            "bound": lag_bound,
        },
        "memory_flat": {
            "passed": all(mb <= args.max_rss_growth_mb for mb in growth.values()),
            "growth_mb": growth,
            "bound_mb": args.max_rss_growth_mb,
        },
        "no_errors": {"passed": errors == 0, "error_lines": errors},
    }
    return {"passed": all(v["passed"] for v in verdicts.values()), **verdicts}


async def soak(args: argparse.Namespace, infra: Infrastructure) -> dict[str, Any]:
    """Run the soak on `infra`; the result holds every sample and the verdicts."""
    duration = args.minutes * 60
    log_dir = args.out / "soak-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    started = datetime.now(UTC)
    async with running_hub(infra, args.partitions, 1, log_dir) as hub:
        workers = await hub.load_roster(log_dir / "roster.csv")
        say(f"services running, {workers} link workers; subscribing the agencies")
        receiver = await WebhookReceiver(lambda _id, _at: None, lambda: 0).start()
        producer = AIOKafkaProducer(
            bootstrap_servers=hub.stack.kafka_bootstrap_servers, linger_ms=5
        )
        await producer.start()
        samples: list[Sample] = []
        try:
            agencies = agencies_of(generate(AGENCY_SAMPLE, f"{hub.run}a", args.seed))
            await subscribe_all(
                hub.services["notifier"].url, hub.stack.auth_secret, agencies, receiver.url
            )
            say(f"{len(agencies)} agencies subscribed; {args.rate:.0f}/s for {duration:.0f} s")
            sent = [0]
            began = time.monotonic()
            publishing = asyncio.create_task(
                publish_steadily(producer, hub, args.rate, duration, args.seed, sent)
            )
            usage(hub)  # the first cpu_percent call only sets its baseline
            async with LagReader(hub.stack.kafka_bootstrap_servers, hub.stack.topic_prefix) as lag:
                finished = False
                while not finished:
                    await asyncio.wait({publishing}, timeout=args.sample_seconds)
                    # Read `done` before the sample, so the last sample always counts
                    # every referral sent (the publisher may finish while we sample).
                    finished = publishing.done()
                    rss, cpu = usage(hub)
                    sample = Sample(
                        round(time.monotonic() - began, 1),
                        sent[0],
                        await lag.read(),
                        rss,
                        cpu,
                        error_lines(log_dir),
                    )
                    samples.append(sample)
                    say(sample.line(duration))
            await publishing  # re-raises a publishing failure
        finally:
            await producer.stop()
            await receiver.stop()
    if not samples:
        raise RuntimeError("the soak ended before its first sample: raise --minutes")
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "infrastructure": infra.origin,
        "verdict": judge(samples, args),
        "samples": [sample.__dict__ for sample in samples],
        "webhook_requests": receiver.requests,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        result = asyncio.run(soak(args, infra))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = result["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = args.out / f"soak-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    verdict = result["verdict"]
    for name in ("lag_bounded", "memory_flat", "no_errors"):
        figures = {k: v for k, v in verdict[name].items() if k != "passed"}
        say(f"{name}: {'PASS' if verdict[name]['passed'] else 'FAIL'} {figures}")
    say(f"wrote {path}")
    return 0 if verdict["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
