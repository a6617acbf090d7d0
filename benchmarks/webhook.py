"""The referrers' webhook endpoint during a run: an HTTP server on loopback in the harness.

It plays every subscribing agency's system: it answers each POST 200 at once and notes when
each referral's first notification arrived (the `focus` `Task/<referral id>` of the
Subscriptions Backport bundle). It runs on the harness's own event loop with keep-alive
connections, so receiving a few thousand notifications a second costs the harness little
and adds nothing the hub's notifier would not meet in life. (tests/support/webhook_receiver.py
is the thread-per-request server the tests use; it records whole requests, which a benchmark
has no use for and cannot afford at this rate.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hub_common.jsonio import loads

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024
TASK_PREFIX = "Task/"


def notified_referrals(body: bytes) -> list[str]:
    """The referral ids a notification bundle reports a change of (none for a handshake)."""
    try:
        bundle = loads(body)
        status = bundle["entry"][0]["resource"]
    except (ValueError, LookupError, TypeError):
        return []
    found = []
    for parameter in status.get("parameter", []):
        if parameter.get("name") != "notification-event":
            continue
        for part in parameter.get("part", []):
            if part.get("name") == "focus":
                reference = str(part.get("valueReference", {}).get("reference", ""))
                if reference.startswith(TASK_PREFIX):
                    found.append(reference.removeprefix(TASK_PREFIX))
    return found


@dataclass
class WebhookReceiver:
    """Accepts every notification; `on_notified(referral_id, at_ms)` hears each event in it."""

    on_notified: Callable[[str, int], None]
    clock_ms: Callable[[], int]
    port: int = 0
    requests: int = 0
    handshakes: int = 0  # requests naming no Task: the subscriptions' handshakes
    _server: asyncio.Server | None = None
    _connections: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        # Closed rather than cancelled: each connection's reader sees the end and returns.
        for writer in list(self._connections):
            writer.close()
        await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return  # the client closed its keep-alive connection
                length = _content_length(head.split(b"\r\n")[1:])
                if length is None or len(head) > MAX_HEADER_BYTES:
                    writer.write(BAD)
                    return
                body = await reader.readexactly(length)
                at = self.clock_ms()
                writer.write(OK)
                self._record(body, at)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._connections.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _record(self, body: bytes, at_ms: int) -> None:
        self.requests += 1
        referrals = notified_referrals(body)
        if not referrals:
            self.handshakes += 1
        for referral_id in referrals:
            self.on_notified(referral_id, at_ms)


def _content_length(header_lines: Iterable[bytes]) -> int | None:
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return 0
