"""The services' HTTP server wakes once a second when idle, yet stops as soon as it is told."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI

from hub_common.http import serve
from hub_common.http.serve import QuietServer
from tests.support.infra import free_port


def test_a_quiet_server_stops_at_once_not_at_its_next_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A tick far longer than any stop may take: a server that noticed the signal only on its
    # clock would take seconds.
    monkeypatch.setattr(serve, "TICK_SECONDS", 30.0)
    server = QuietServer(
        uvicorn.Config(FastAPI(), host="127.0.0.1", port=free_port(), log_config=None)
    )
    # Off the main thread, so uvicorn installs no signal handlers in the test process; the
    # handler is called as a signal would call it, from another thread than the loop's.
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    # uvicorn's tick sets the Date header; this one ticks on starting, then once a second.
    assert any(name == b"date" for name, _ in server.server_state.default_headers)
    told = time.monotonic()
    server.handle_exit(signal.SIGTERM, None)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - told < 2.0
