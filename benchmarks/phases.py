"""One phase of a run: publish a set of messages at a rate, wait until they have all come out
the far end (or stopped coming), and account for the processes' CPU and memory meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from benchmarks.load import Inbound
from benchmarks.measure import (
    DatabaseCounter,
    DatabaseWork,
    HubObserver,
    Observer,
    ProcessSampler,
    Progress,
    Usage,
    publish,
)


@dataclass
class Phase:
    """What a phase published and what it cost; the figures come from its observer."""

    name: str
    messages: list[Inbound]
    rate: float | None  # referrals per second offered; None: as fast as the producer can
    complete: bool = True  # False when the far end stopped advancing before all arrived
    seconds: float = 0.0
    usage: dict[str, Usage] = field(default_factory=dict)
    machine: dict[str, float] = field(default_factory=dict)  # whole-machine CPU and load
    database: DatabaseWork | None = None  # statements and transactions in the run's database

    @property
    def references(self) -> list[str]:
        return [reference for message in self.messages for reference in message.references]


async def run_phase(
    phase: Phase,
    *,
    observer: Observer,
    producer: AIOKafkaProducer,
    topic_of: Callable[[str], str],
    sampler: ProcessSampler | None,
    stall_seconds: float,
    status_grace: float,
    database: DatabaseCounter | None = None,
) -> None:
    """Run `phase`, filling in its outcome. Never raises for a slow hub: a phase that stops
    advancing for `stall_seconds` ends incomplete, and the report says so."""
    references = phase.references
    wanted = len(references)
    progress = Progress(phase.name)
    sent = [0]
    if database:
        await database.begin()
    if sampler:
        sampler.begin()
    start = time.monotonic()
    publishing = asyncio.create_task(
        publish(producer, topic_of, phase.messages, phase.rate, observer, sent)
    )
    last_done, last_change = -1, start
    while True:
        await asyncio.sleep(0.25)
        now = time.monotonic()
        done = observer.finished(references)
        progress.show(f"published {sent[0]}/{wanted} · {observer.describe(references)}")
        if publishing.done():
            publishing.result()  # a publishing error ends the run, loudly
        if done != last_done:
            last_done, last_change = done, now
        if publishing.done() and done >= wanted:
            break
        if now - last_change > stall_seconds:
            phase.complete = False
            break
    if isinstance(observer, HubObserver):
        await _await_notifications(observer, references, status_grace, progress)
    phase.seconds = round(time.monotonic() - start, 2)
    if sampler:
        phase.usage = await sampler.end()
        phase.machine = sampler.machine()
    if database:
        phase.database = await database.end()
    state = "" if phase.complete else f" · INCOMPLETE (stalled {stall_seconds:.0f} s)"
    progress.done(f"published {sent[0]}/{wanted} · {observer.describe(references)}{state}")


async def measure_idle(
    sampler: ProcessSampler,
    seconds: float,
    database: DatabaseCounter | None = None,
    settle_seconds: float = 3.0,
) -> tuple[float, dict[str, Usage], dict[str, float], DatabaseWork | None]:
    """The processes with nothing to do for `seconds` (after `settle_seconds` for the last
    phase's stragglers): what waiting for work costs. Returns the seconds measured, each
    process's usage, the whole machine's, and the statements PostgreSQL ran meanwhile (a
    loop that polls shows there)."""
    await asyncio.sleep(settle_seconds)
    progress = Progress("idle")
    if database:
        await database.begin()
    sampler.begin()
    start = time.monotonic()
    while (left := seconds - (time.monotonic() - start)) > 0:
        progress.show(f"no load · {left:.0f} s to go")
        await asyncio.sleep(min(1.0, left))
    elapsed = round(time.monotonic() - start, 2)
    usage = await sampler.end()
    work = await database.end() if database else None
    progress.done(f"no load for {elapsed:g} s")
    return elapsed, usage, sampler.machine(), work


async def _await_notifications(
    observer: HubObserver, references: list[str], grace: float, progress: Progress
) -> None:
    """Wait for the referrer notifications, if the notifier publishes any: for `grace`
    seconds past the last one to arrive (or past the last Task when none has yet)."""
    deadline = time.monotonic() + grace
    last = observer.notified(references)
    while last < len(references) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = observer.notified(references)
        if now != last:
            last, deadline = now, time.monotonic() + grace
        progress.show(f"waiting for notifications · {observer.describe(references)}")
