"""Stopping and starting the local Kafka and PostgreSQL, for outage and chaos tests."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.infra import REPO, Infrastructure


def require_local(infra: Infrastructure) -> None:
    if infra.origin != "local bring-up":
        pytest.fail(
            "outage tests stop and start Kafka and PostgreSQL, which only the project's own local "
            f"bring-up (deploy/local/stack.sh) lets them do; this run's infrastructure came from {infra.origin}"
        )


def stack(action: str) -> None:
    """`deploy/local/stack.sh kafka-stop|kafka-start|pg-stop|pg-start`."""
    result = subprocess.run(
        ["bash", str(REPO / "deploy/local/stack.sh"), action],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"stack.sh {action} failed:\n{result.stdout}\n{result.stderr}")
