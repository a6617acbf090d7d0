"""The shape every hub service shares: one ASGI app running its HTTP routes, its Kafka
consumers and its outbox relay, with health endpoints that check PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import unquote

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.http import fhir as fhir_http
from hub_common.http.body_limit import BodySizeLimit, BodyTooLarge, too_large
from hub_common.http.health import database_check, health_router, kafka_check
from hub_common.messaging.failures import is_transient
from hub_common.messaging.outbox import OutboxRelay
from hub_common.observability import tracing
from hub_common.observability.metrics import DEFAULT_INTERVAL_SECONDS, ServiceMetrics

DEFAULT_MAX_BODY_BYTES = 1_000_000
"""The largest request body a service reads, unless it sets its own (intake's is a setting)."""


def service_app(
    *,
    title: str,
    engine: AsyncEngine,
    broker: KafkaBroker,
    relay: OutboxRelay | None,
    auth_secret: str,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    too_large_advice: str = "",
    metrics_interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> FastAPI:
    """Start the relay, any `background` loops (run until cancelled, e.g. a delivery worker)
    and the broker with the app; stop them and release the pool after.

    A request body over `max_body_bytes` is refused with 413 while it streams in, declared
    (Content-Length) or not (chunked): nothing larger is ever held in memory. The 413's
    OperationOutcome gives the limit, and `too_large_advice` when given.

    `/metrics` (hub_common.observability.metrics) samples its gauges every `metrics_interval_seconds`,
    reaching Kafka as the relay does."""
    metrics = ServiceMetrics(
        title,
        engine,
        broker,
        outbox=relay.outbox if relay else None,
        kafka=relay.kafka_options if relay else None,
        interval_seconds=metrics_interval_seconds,
    )
    background = [*background, metrics.run]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(relay.run(), name=f"{title} outbox relay")] if relay else []
        tasks += [
            asyncio.create_task(run(), name=f"{title} background {n}")
            for n, run in enumerate(background)
        ]
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await engine.dispose()

    app = FastAPI(title=f"Referral hub: {title}", version="0.1.0", lifespan=lifespan)
    # Added first, so it sits inside the others: the routes then read the limited body
    # directly, and BodyTooLarge reaches its handler rather than another middleware's task.
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, advice=too_large_advice)
    app.middleware("http")(refuse_nul_characters)
    fhir_http.install(app)

    async def body_too_large(request: Request, error: Exception) -> Response:
        return too_large(max_body_bytes, too_large_advice)

    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, unreadable_body)
    for dependency_error in (DBAPIError, KafkaError, OSError):
        app.add_exception_handler(dependency_error, dependency_unavailable)
    app.state.broker = broker
    app.state.auth_secret = auth_secret

    checks = {"database": database_check(engine), "kafka": kafka_check(broker)}
    app.include_router(health_router(checks))
    metrics.readiness(checks)
    metrics.expose(app)
    tracing.instrument_app(app)
    return app


def _printable(text: object) -> str:
    # A lone surrogate (from a `\\ud800` escape) cannot be encoded as UTF-8 in the answer.
    return str(text).encode("utf-8", "replace").decode("utf-8")


async def invalid_request(request: Request, error: Exception) -> Response:
    """FastAPI's 422, naming each field and what is wrong with it, without echoing the value:
    the echo could carry personal data back, and an infinite number or a lone surrogate in it
    made FastAPI's own handler fail with a 500."""
    assert isinstance(error, RequestValidationError)
    if fhir_http.is_fhir_path(request):
        return fhir_http.invalid_input(error, _printable)
    detail = [
        {
            "type": _printable(problem.get("type", "")),
            "loc": [part if isinstance(part, int) else _printable(part) for part in problem["loc"]],
            "msg": _printable(problem.get("msg", "")),
        }
        for problem in error.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


# FastAPI's words when it cannot parse a JSON body at all (invalid UTF-8, nesting too deep
# for the decoder), rather than finding it invalid field by field (that is a 422).
_FASTAPI_UNPARSEABLE = "There was an error parsing the body"


async def unreadable_body(request: Request, error: Exception) -> Response:
    """A body FastAPI could not parse is refused with an OperationOutcome naming the body, like
    every other refusal; any other HTTP error keeps FastAPI's own answer, except on `/fhir`
    routes, where FHIR clients expect an OperationOutcome (hub_common.http.fhir)."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code != 400 or error.detail != _FASTAPI_UNPARSEABLE:
        if fhir_http.is_fhir_path(request):
            return fhir_http.http_error(request, error)
        return await http_exception_handler(request, error)
    outcome = operation_outcome(
        [
            Issue(
                "(body)",
                "the request body could not be parsed as JSON: it must be UTF-8, and nested "
                "no deeper than a JSON decoder allows",
                code="structure",
            )
        ]
    )
    return JSONResponse(outcome, status_code=400, media_type="application/fhir+json")


RETRY_AFTER_SECONDS = 5


async def dependency_unavailable(request: Request, error: Exception) -> Response:
    """PostgreSQL or Kafka is away (restarting, refusing connections): 503 with Retry-After,
    so a client knows to try again, instead of a 500 that says the request itself was bad.
    Anything else goes on to the server-error handler."""
    if not is_transient(error):
        raise error
    outcome = operation_outcome(
        [
            Issue(
                "(service)",
                "a dependency of the hub is briefly unavailable; retry shortly",
                code="transient",
            )
        ]
    )
    return JSONResponse(
        outcome,
        status_code=503,
        media_type="application/fhir+json",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def refuse_nul_characters(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A NUL character in the path or query can never be a valid id or filter, and PostgreSQL
    refuses it in text: answer 400 here, at the edge, instead of failing deep inside."""
    target = unquote(request.url.path) + unquote(request.url.query)
    if "\x00" in target:
        outcome = operation_outcome([Issue("(url)", "the path or query contains a NUL character")])
        return JSONResponse(outcome, status_code=400, media_type="application/fhir+json")
    return await call_next(request)
