"""A real Prometheus (Debian's `prometheus` package, installed by .ci/run) scraping test
services: its own loopback port and data directory under .local/, a one-second scrape and rule
evaluation, and the hub's alert rules with every `for:` shortened to `for_seconds`."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.infra import REPO, free_port

RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
MISSING = (
    "{tool} not found: install Debian's `prometheus` package (apt-get install prometheus; "
    ".ci/run installs it)"
)


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AssertionError(MISSING.format(tool=name))
    return found


def shortened_rules(for_seconds: int) -> str:
    """The real rules file, each `for:` cut to `for_seconds` so a test sees alerts fire."""
    return re.sub(r"(?m)^(\s+for:\s*)\S+", rf"\g<1>{for_seconds}s", RULES.read_text())


@dataclass
class Prometheus:
    url: str
    log_path: Path

    def query(self, expression: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=5)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def value(self, expression: str) -> float | None:
        """The single value of an expression that sums to one series, or None if it has none."""
        result = self.query(expression)
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/alerts", timeout=5)
        answer.raise_for_status()
        alerts: list[dict[str, Any]] = answer.json()["data"]["alerts"]
        return alerts

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_prometheus(
    targets: dict[str, str], token: str, *, for_seconds: int = 3
) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` (job name -> host:port) every second with `token`."""
    executable = binary("prometheus")
    home = REPO / ".local" / f"prometheus-test-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    (home / "token").write_text(token)
    (home / "alerts.yml").write_text(shortened_rules(for_seconds))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {
                "job_name": job,
                "authorization": {"credentials_file": "token"},
                "static_configs": [{"targets": [target]}],
            }
            for job, target in targets.items()
        ],
    }
    (home / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log_path = home / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                executable,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{prometheus.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{prometheus.url}/-/ready", timeout=10).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready in 30 s:\n{prometheus.tail()}")
            time.sleep(0.2)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(home, ignore_errors=True)
