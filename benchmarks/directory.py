"""`make bench-directory` (`python -m benchmarks.directory`): the community services directory
at size (issue 14): how long `directory import` takes for N services, how long the router
takes to load them from `directory.services`, and search latency over a mix of queries.

1. Kafka and PostgreSQL as the tests find them; an isolated database and topic prefix.
2. `deploy/demo/make_directory.py --services N` writes the ORUK file (not timed).
3. `run_import` (what `referral-hub directory import FILE` runs) is timed end to end: read the
   file, read the topic back, check every record, publish every Bundle, wait for the broker.
4. The router (in this process, its real lifespan and Kafka consumer) is timed from start
   until its read model holds all N services.
5. `--searches` searches through the router's HTTP app (in process, no network), round robin
   over the kinds below, one at a time after a warm-up; p50/p95/p99 per kind and overall.

The calibration (`cpu_speed_ms`) before and after says whether the machine's speed held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.measure import cpu_speed_ms, machine_busy
from benchmarks.stats import latency_summary
from hub_cli.public import run_import
from hub_common.security.auth import Principal, issue_token
from hub_common.settings import InfraSettings
from hub_router.public import RouterSettings, build_app, directory_size
from tests.support.infra import infrastructure
from tests.support.stack import drop_database, drop_topics, prepare, run_id

REPO = Path(__file__).resolve().parents[1]

# The searches a link worker makes, from narrow to broad.
SEARCHES: dict[str, dict[str, Any]] = {
    "need+distance": {"category": "loneliness-isolation", "near": "CR7", "distance": 5},
    "text": {"_text": "debt advice"},
    "text+distance": {"_text": "food", "near": "SW19"},
    "days+free+age": {"open-on": "sat,sun", "free": "true", "age": 72},
    "capacity+need": {"capacity": "available,unknown", "category": "housing"},
    "everything": {
        "category": "mental-wellbeing",
        "near": "KT1",
        "distance": 10,
        "open-on": "mon,tue,wed",
        "free": "true",
        "age": 40,
        "capacity": "available,unknown,waiting-list",
    },
    "broad, nearest first": {"near": "SM1"},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--services", type=int, default=5000, help="directory size (5000)")
    parser.add_argument("--searches", type=int, default=700, help="searches timed (700)")
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "directory")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"[bench-directory] {text}", file=sys.stderr, flush=True)


async def measure(feed: Path, searches: int) -> dict[str, Any]:
    with infrastructure() as infra:
        busy = await machine_busy()
        speed_before = cpu_speed_ms()
        run = run_id()
        stack = await prepare(infra.kafka_bootstrap_servers, infra.database_url, run)
        try:
            started = time.perf_counter()
            plan = await run_import(
                InfraSettings.model_validate(
                    {
                        "kafka_bootstrap_servers": stack.kafka_bootstrap_servers,
                        "topic_prefix": stack.topic_prefix,
                    }
                ),
                str(feed),
                show_progress=False,
            )
            import_seconds = time.perf_counter() - started
            say(f"imported {len(plan.added)} services in {import_seconds:.1f} s")
            settings = RouterSettings.model_validate(
                {
                    "kafka_bootstrap_servers": stack.kafka_bootstrap_servers,
                    "database_url": stack.database_url,
                    "topic_prefix": stack.topic_prefix,
                    "auth_secret": stack.auth_secret,
                }
            )
            app = build_app(settings)
            started = time.perf_counter()
            async with app.router.lifespan_context(app):
                while await directory_size(app) < len(plan.added):
                    if time.perf_counter() - started > 600:
                        raise RuntimeError("the router did not load the directory in 10 minutes")
                    await asyncio.sleep(0.2)
                load_seconds = time.perf_counter() - started
                say(f"router loaded them in {load_seconds:.1f} s")
                latencies = await search(app, stack.auth_secret, searches)
        finally:
            await drop_database(infra.database_url, f"hub_test_{run}")
            await drop_topics(infra.kafka_bootstrap_servers, stack.topics)
        speed_after = cpu_speed_ms()
    every = [ms for values in latencies.values() for ms in values]
    return {
        "services": len(plan.added),
        "refused": len(plan.refused),
        "import_seconds": round(import_seconds, 2),
        "router_load_seconds": round(load_seconds, 2),
        "search_ms": {
            "all": latency_summary(every),
            **{kind: latency_summary(values) for kind, values in latencies.items()},
        },
        "calibration_ms": [speed_before, speed_after],
        "machine_busy_before_percent": busy,
    }


async def search(app: Any, secret: str, searches: int) -> dict[str, list[float]]:
    token = issue_token(secret, Principal("link_worker", "lw-bench"))
    headers = {"Authorization": f"Bearer {token}"}
    latencies: dict[str, list[float]] = {kind: [] for kind in SEARCHES}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        kinds = list(SEARCHES.items())
        for number in range(len(kinds) * 3 + searches):  # the first laps warm up
            kind, params = kinds[number % len(kinds)]
            started = time.perf_counter()
            answer = await client.get("/fhir/HealthcareService", params=params, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"{kind}: {answer.status_code} {answer.text[:300]}")
            if number >= len(kinds) * 3:
                latencies[kind].append(elapsed)
    return latencies


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    feed = args.out / f"directory-{args.services}.oruk.json"
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(REPO / "deploy/demo/make_directory.py"),
         "--services", str(args.services), "--out", str(feed)],
        check=True,
    )  # fmt: skip
    result = asyncio.run(measure(feed, args.searches))
    (args.out / "directory.json").write_text(json.dumps(result, indent=2) + "\n")
    summary = result["search_ms"]["all"]
    print(
        f"directory of {result['services']}: import {result['import_seconds']} s, router load "
        f"{result['router_load_seconds']} s, search p50 {summary['p50']:.1f} ms, "
        f"p95 {summary['p95']:.1f} ms, p99 {summary['p99']:.1f} ms "
        f"(calibration {result['calibration_ms'][0]} -> {result['calibration_ms'][1]} ms)"
    )
    for kind in SEARCHES:
        row = result["search_ms"][kind]
        print(f"  {kind:<22} p50 {row['p50']:7.1f}  p95 {row['p95']:7.1f}  p99 {row['p99']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
