"""POSTing a notification to a referrer's endpoint, signed, within a hard time limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import httpx

from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.endpoint_guard import PrivateEndpoint
from hub_notifier.domain.signature import sign

FHIR_JSON_MEDIA = "application/fhir+json"


def request_headers(
    extra: Sequence[str], *, secret: str, idempotency_key: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The subscription's own headers first, then the hub's, which they can never override."""
    headers: dict[str, str] = {}
    for line in extra:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    headers.update(
        {
            "Content-Type": FHIR_JSON_MEDIA,
            "Idempotency-Key": idempotency_key,
            "X-Hub-Timestamp": str(timestamp),
            "X-Hub-Signature": sign(secret, timestamp, body),
        }
    )
    return headers


class WebhookSender:
    """One shared HTTP client; each request is bounded by `timeout_seconds` end to end."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        timeout_seconds: float,
        clock: Callable[[], float] = time.time,
        guard: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._clock = clock
        self._guard = guard  # refuses endpoints that now resolve to private addresses

    async def send(
        self,
        endpoint: str,
        extra_headers: Sequence[str],
        *,
        secret: str,
        idempotency_key: str,
        body: bytes,
    ) -> Attempt:
        headers = request_headers(
            extra_headers,
            secret=secret,
            idempotency_key=idempotency_key,
            timestamp=int(self._clock()),
            body=body,
        )
        if self._guard is not None:
            try:
                await self._guard(endpoint)
            except PrivateEndpoint:
                return Attempt(False, "private address refused")
        try:
            # httpx's timeout bounds each phase; this bounds the whole exchange, so an endpoint
            # that trickles its answer byte by byte cannot hold a slot for long.
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(endpoint, content=body, headers=headers)
        except TimeoutError:
            return Attempt(False, "timeout")
        except httpx.HTTPError as error:
            return Attempt(False, type(error).__name__)
        if 200 <= response.status_code < 300:
            return Attempt(True)
        return Attempt(False, f"HTTP {response.status_code}")


def http_client(timeout_seconds: float, concurrency: int) -> httpx.AsyncClient:
    """Redirects are not followed: the endpoint the agency registered is the only one."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )
