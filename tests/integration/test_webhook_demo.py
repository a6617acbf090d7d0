"""`referral-hub demo webhooks` against a real notifier (real Kafka and PostgreSQL): it
subscribes, the notifier's signed handshake arrives, and the page shows it checked."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.infra import Infrastructure, free_port
from tests.support.notifier_setup import notifier_process, own_stack
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def notifier(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ServiceProcess, dict[str, str]]]:
    stack, drop = await own_stack(infra)
    process = notifier_process(stack, tmp_path_factory.mktemp("webhook-demo"))
    process.start()
    try:
        yield process, stack.env()
    finally:
        process.stop()
        await drop()


async def test_the_demo_shows_the_notifiers_signed_handshake_as_valid(
    notifier: tuple[ServiceProcess, dict[str, str]], tmp_path: Path
) -> None:
    process, env = notifier
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen(  # noqa: ASYNC220 - a long-running process, polled below
        [
            sys.executable,
            "-m",
            "hub_cli.main",
            "demo",
            "webhooks",
            "--port",
            str(port),
            "--notifier",
            process.url,
        ],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 90
        page = ""
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                assert demo.poll() is None, (tmp_path / "demo.log").read_text()
                try:
                    page = (await client.get(f"http://127.0.0.1:{port}/")).text
                except httpx.HTTPError:
                    page = ""
                if "handshake" in page:
                    break
                await asyncio.sleep(0.5)
        assert "handshake" in page, page or (tmp_path / "demo.log").read_text()
        assert "✔ valid; Standard Webhooks: valid" in page
        assert "webhook demo: subscription" in (tmp_path / "demo.log").read_text()
    finally:
        demo.terminate()
        demo.wait(timeout=30)
        log.close()
