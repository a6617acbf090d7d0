"""What the hub costs while it waits: intake, router and notifier with no load at all.

    python -m benchmarks.idle --seconds 20

Starts the three services the way the benchmark does (benchmarks/hub.py), lets them settle,
then prints each one's CPU over `--seconds` as a percentage of one core, and their total. The
full benchmark measures the same thing in its "Quiet at a trickle" phase, after a warm-up;
this is the quick check for a change to a consumer, a relay or a periodic job.
`--hold` keeps the services running afterwards (their pids printed), to profile them; last,
each is stopped (SIGTERM) and the time it took to exit printed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.hub import running_hub
from benchmarks.measure import ProcessSampler
from tests.support.infra import infrastructure


async def measure(seconds: float, settle: float, hold: float) -> dict[str, float]:
    """Each service's CPU over `seconds` of idling, in percent of one core."""
    with infrastructure() as infra, tempfile.TemporaryDirectory(prefix="idle-") as logs:
        async with running_hub(infra, partitions=6, replicas=1, log_dir=Path(logs)) as hub:
            print(f"services started: {hub.pids()}; settling for {settle:g} s", flush=True)
            await asyncio.sleep(settle)
            # The benchmark's own sampler, so the figure is its idle phase's.
            sampler = ProcessSampler(hub.pids())
            sampler.begin()
            start = time.monotonic()
            await asyncio.sleep(seconds)
            usage = await sampler.end()
            elapsed = time.monotonic() - start
            percent = {name: 100 * used.cpu_seconds / elapsed for name, used in usage.items()}
            report(percent, elapsed)
            if hold > 0:
                print(f"holding for {hold:g} s: {hub.pids()}", flush=True)
                await asyncio.sleep(hold)
            for name, service in hub.services.items():
                # SIGTERM to exit: a longer poll must not make a service slow to stop.
                started = time.monotonic()
                await asyncio.to_thread(service.stop)
                print(f"{name:<10} stopped in {time.monotonic() - started:.2f} s", flush=True)
    return percent


def report(percent: dict[str, float], seconds: float) -> None:
    for name, value in percent.items():
        print(f"{name:<10} {value:5.2f} % of one core")
    print(
        f"{'total':<10} {sum(percent.values()):5.2f} % of one core over {seconds:.1f} s", flush=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep them after")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.seconds, args.settle, args.hold))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
