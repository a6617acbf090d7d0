"""The transport ceiling: the same messages through three raw aiokafka hops, A->B->C->D.

Each hop is its own process (as each hub service is): a consumer group member that reads a
batch and produces every record unchanged to the next topic, with no parsing, no database and
no per-message commit. Whatever the hub does beyond this is the price of its work, so the
ratio hub/raw says how much of the machine's Kafka capacity the hub turns into referrals.

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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.infra import REPO

READY = "ready"


def relay_topics(prefix: str) -> list[str]:
    """A, B, C, D under the run's prefix, so the run's clean-up removes them too."""
    return [f"{prefix}bench.relay.{name}" for name in "abcd"]


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def hop(bootstrap: str, source: str, target: str, group: str) -> None:
    """Consume `source`, produce each record's key and value to `target`, forever."""
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        # Joined the group: records flow from here. aiokafka offers no event to await for it.
        while not consumer.assignment():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        print(READY, flush=True)
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


class RelayChain:
    """Three hop processes over A->B->C->D; started ready (each has joined its group)."""

    def __init__(self, bootstrap: str, topics: list[str], group_prefix: str, log_dir: Path):
        self._bootstrap = bootstrap
        self._topics = topics
        self._group_prefix = group_prefix
        self._log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, ready_timeout: float = 60.0) -> None:
        for n, (source, target) in enumerate(zip(self._topics, self._topics[1:], strict=False)):
            name = f"relay-{n + 1}"
            log = (self._log_dir / f"{name}.log").open("a")
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                [
                    sys.executable,
                    "-m",
                    "benchmarks.relay",
                    f"--bootstrap={self._bootstrap}",
                    f"--source={source}",
                    f"--target={target}",
                    f"--group={self._group_prefix}{name}",
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
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(hop(args.bootstrap, args.source, args.target, args.group))


if __name__ == "__main__":
    main()
