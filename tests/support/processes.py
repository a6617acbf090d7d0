"""Hub services as real operating-system processes, so tests can kill them like a crash would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.infra import REPO, free_port

PORT_VARIABLE = {
    "intake": "INTAKE_HTTP_PORT",
    "router": "ROUTER_HTTP_PORT",
    "notifier": "NOTIFIER_HTTP_PORT",
    "web": "WEB_HTTP_PORT",
}


@dataclass
class ServiceProcess:
    """One service (`python -m hub_<name>`) with its log in a file the test can show on failure."""

    name: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.port}.log"

    # How long a start may take before the test fails: a guard against a service that never
    # comes up, not a performance claim. Importing the service on a two-core machine that is
    # running other test files (make test's workers) alongside has taken over a minute.
    READY_TIMEOUT = 180.0

    def start(self, ready_timeout: float = READY_TIMEOUT) -> ServiceProcess:
        env = {**os.environ, **self.env, PORT_VARIABLE[self.name]: str(self.port)}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"hub_{self.name}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                # Readiness asks PostgreSQL and Kafka: on a busy machine that alone can take
                # over a second, and a probe cut short at 1 s never sees the answer.
                if httpx.get(f"{self.url}/health/ready", timeout=10.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready within {ready_timeout:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, exactly like a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def run_cli(env: dict[str, str], *arguments: str) -> str:
    """Run `referral-hub ARGUMENTS...` against a test stack; fail with its stderr if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "hub_cli.main", *arguments],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,  # a guard against a hang: importing the CLI on a busy machine takes a while
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"referral-hub {' '.join(arguments)} failed:\n{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def running_hub(env: dict[str, str], log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    """Intake, router and notifier as separate processes; all stopped on the way out."""
    running = {
        name: ServiceProcess(name, env, log_dir) for name in ("intake", "router", "notifier")
    }
    try:
        for process in running.values():
            process.start()
        yield running
    finally:
        for process in running.values():
            process.stop()
