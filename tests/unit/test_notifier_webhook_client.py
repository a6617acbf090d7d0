"""The webhook sender's HTTP client against a real server on loopback: answers, redirects,
oversized answers, refusals, time limits and connection reuse."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from hub_notifier.adapters.webhook import HttpClient, WebhookSender


class Endpoint:
    """A referrer's endpoint whose answer each test chooses; counts requests and connections."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.peers: set[tuple[str, int]] = set()
        # A fresh response each time: aiohttp sends a response object only once.
        self.answer: Callable[[], web.StreamResponse] = lambda: web.Response(status=204)
        self.delay = 0.0
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        self.requests.append({"body": await request.read(), "headers": dict(request.headers)})
        await asyncio.sleep(self.delay)
        return self.answer()


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    target = Endpoint()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target.url = f"http://127.0.0.1:{port}/hook"
    yield target
    await runner.cleanup()


@asynccontextmanager
async def webhook_sender(
    timeout: float = 2.0, concurrency: int = 4
) -> AsyncIterator[WebhookSender]:
    client = HttpClient(concurrency)
    try:
        yield WebhookSender(client, timeout)
    finally:
        await client.aclose()


async def send(sender: WebhookSender, url: str, body: bytes = b'{"a": 1}') -> Any:
    return await sender.send(url, ("X-Agency: a",), secret="s", idempotency_key="k1", body=body)


async def test_a_2xx_answer_is_a_success_and_the_request_is_signed(endpoint: Endpoint) -> None:
    async with webhook_sender() as sender:
        attempt = await send(sender, endpoint.url)
    assert attempt.ok
    (request,) = endpoint.requests
    assert request["body"] == b'{"a": 1}'
    assert request["headers"]["Idempotency-Key"] == "k1"
    assert request["headers"]["X-Agency"] == "a"
    assert request["headers"]["X-Hub-Signature"]


async def test_keep_alive_connections_are_reused_across_deliveries(endpoint: Endpoint) -> None:
    endpoint.answer = lambda: web.Response(status=200, text="thanks")
    async with webhook_sender(2.0, 1) as sender:
        attempts = [await send(sender, endpoint.url) for _ in range(5)]
    assert all(a.ok for a in attempts)
    assert len(endpoint.requests) == 5
    assert len(endpoint.peers) == 1


async def test_a_redirect_is_not_followed(endpoint: Endpoint) -> None:
    endpoint.answer = lambda: web.Response(status=302, headers={"Location": "http://127.0.0.1:9/x"})
    async with webhook_sender() as sender:
        attempt = await send(sender, endpoint.url)
    assert not attempt.ok and attempt.error == "HTTP 302"
    assert len(endpoint.requests) == 1


async def test_an_oversized_answer_is_dropped_not_kept(endpoint: Endpoint) -> None:
    endpoint.answer = lambda: web.Response(status=200, body=b"x" * (4 * 1024 * 1024))
    async with webhook_sender(5.0) as sender:
        attempts = [await send(sender, endpoint.url) for _ in range(2)]
    assert all(a.ok for a in attempts)
    assert len(endpoint.peers) == 2  # the connection with an unread answer was not reused


async def test_a_slow_endpoint_times_out(endpoint: Endpoint) -> None:
    endpoint.delay = 2.0
    async with webhook_sender(0.3) as sender:
        attempt = await send(sender, endpoint.url)
    assert not attempt.ok and attempt.error == "timeout"


async def test_a_refused_connection_reads_as_cannot_connect() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with webhook_sender() as sender:
        attempt = await send(sender, f"http://127.0.0.1:{port}/hook")
    assert not attempt.ok and attempt.error == "cannot connect"


async def test_a_malformed_endpoint_reads_as_invalid() -> None:
    async with webhook_sender() as sender:
        attempt = await send(sender, "http://[::1/hook")
    assert not attempt.ok and attempt.error == "invalid endpoint"
