"""POSTing a notification to a referrer's endpoint, signed, within a hard time limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import aiohttp

from hub_common.observability import tracing
from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.endpoint_guard import PrivateEndpoint
from hub_notifier.domain.signature import sign, standard_signature

FHIR_JSON_MEDIA = "application/fhir+json"


def request_headers(
    extra: Sequence[str],
    *,
    secret: str,
    idempotency_key: str,
    timestamp: int,
    body: bytes,
    previous_secret: str | None = None,
) -> dict[str, str]:
    """The subscription's own headers first, then the hub's, which they can never override:
    Standard Webhooks' three (the idempotency key is the message id, the same on every retry)
    and the hub's first signature scheme beside them."""
    own = {
        "Content-Type": FHIR_JSON_MEDIA,
        "Idempotency-Key": idempotency_key,
        "webhook-id": idempotency_key,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(
            secret, idempotency_key, timestamp, body, previous_secret=previous_secret
        ),
        "X-Hub-Timestamp": str(timestamp),
        "X-Hub-Signature": sign(secret, timestamp, body),
    }
    reserved = {name.lower() for name in own}
    headers: dict[str, str] = {}
    for line in extra:
        name, _, value = line.partition(":")
        if name.strip().lower() not in reserved:  # in any letter case
            headers[name.strip()] = value.strip()
    headers.update(own)
    return headers


class WebhookSender:
    """One shared HTTP client; each request is bounded by `timeout_seconds` end to end.

    aiohttp rather than httpx: under a steady 200 referrals/s, httpx and httpcore took about a
    quarter of the notifier's CPU (py-spy), much of it re-running a failing `import sniffio`
    on every request."""

    def __init__(
        self,
        client: HttpClient,
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
        previous_secret: str | None = None,
    ) -> Attempt:
        headers = request_headers(
            extra_headers,
            secret=secret,
            previous_secret=previous_secret,
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
            # The whole exchange, answer included, within the limit: an endpoint that trickles
            # its answer byte by byte cannot hold a slot for long.
            async with asyncio.timeout(self._timeout):
                status = await self._client.post(endpoint, body, headers)
        except TimeoutError:
            return Attempt(False, "timeout")
        except (aiohttp.ClientError, ValueError) as error:  # ValueError: a malformed URL
            return Attempt(False, failure_name(error))
        if 200 <= status < 300:
            return Attempt(True)
        return Attempt(False, f"HTTP {status}")


def failure_name(error: Exception) -> str:
    """What operators read in a dead letter's `last_error`: plain words for the common cases,
    not one HTTP library's class names."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return "cannot connect"  # refused, unreachable, or the name does not resolve
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "connection closed"
    if isinstance(error, (aiohttp.InvalidURL, ValueError)):
        return "invalid endpoint"
    return type(error).__name__


class HttpClient:
    """POSTs over pooled keep-alive connections and answers the status. The session is made on
    first use, inside the running event loop, as aiohttp requires. The time limit is the
    sender's, around the whole exchange."""

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def post(self, endpoint: str, body: bytes, headers: Mapping[str, str]) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency),
                # Nothing from one endpoint's answers may reach the next request.
                cookie_jar=aiohttp.DummyCookieJar(),
                # A client span per POST, its `traceparent` sent with it (the referral's trace).
                trace_configs=[tracing.aiohttp_trace_config()],
            )
        # Redirects are not followed: the endpoint the agency registered is the only one.
        async with self._session.post(
            endpoint, data=body, headers=headers, allow_redirects=False
        ) as response:
            await _drain(response, MAX_ANSWER_BYTES)
            return response.status

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


# The answer's body is read (so the connection can be reused) but never kept; past this size
# the connection is dropped instead.
MAX_ANSWER_BYTES = 64 * 1024


async def _drain(response: aiohttp.ClientResponse, limit: int) -> None:
    read = 0
    while read <= limit:
        chunk = await response.content.readany()
        if not chunk:
            return
        read += len(chunk)
    response.close()
