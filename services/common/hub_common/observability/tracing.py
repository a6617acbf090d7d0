"""Distributed traces: one OpenTelemetry trace from an agency's message to the referrer's webhook.

Every hop continues the trace its input carried in the W3C `traceparent` header (Kafka
envelope or HTTP request): a consumer span per Kafka message, a producer span per outbox row
the relay publishes, a server span per HTTP request (FastAPI's instrumentation) and a client
span per webhook POST (aiohttp's). The outbox relay publishes later, in another transaction, so
an event's parent travels in its outbox row's headers (`hub_common.messaging.envelope.Envelope.new`
records the span that staged it) and the relay's span continues from there; a webhook delivery
row keeps its change's `traceparent` the same way.

Configured by OpenTelemetry's own environment variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns export on, over OTLP/HTTP (protobuf); without
one, spans are not recorded (nothing would receive them: recording cost about 40 us a span,
a tenth of a referral's CPU in the services), but each hop still gets its own span id, and the
ids reach headers and log lines.
`OTEL_SERVICE_NAME` overrides the service's name, `OTEL_BSP_SCHEDULE_DELAY` the batching, and
`OTEL_SDK_DISABLED=true` turns spans off altogether (the envelope then continues the trace by
hand, `hub_common.messaging.envelope.child_traceparent`).

Why not FastStream's `KafkaTelemetryMiddleware`: every hub subscriber consumes in batches,
and for a batch it starts a new trace per poll, linked to a message's trace only through a
`correlation_id` header the hub does not send; and the hub publishes through its outbox relay
(aiokafka), which the middleware never sees. So the spans per message and per published event
are made here, with the messaging semantic conventions' names and attributes.

A hop costs about 0.1 ms of CPU for its two spans when they are exported; `OTEL_TRACES_SAMPLER`
(e.g. `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.1`) records fewer, and the
trace context still travels.

Spans carry ids and codes, never personal data: exception messages and stack traces (which
can quote a payload) and URL query strings (a FHIR search names what it looks for) are
removed before export (`ScrubbingExporter`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACER_NAME = "referral-hub"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROPAGATOR = TraceContextTextMapPropagator()
ATTRIBUTE_MAX_CHARS = 100
_provider: TracerProvider | None = None
_spans_on = False


def export_endpoint() -> str | None:
    """Where spans go, from OpenTelemetry's standard variables; None means no export."""
    for name in ENDPOINT_VARIABLES:
        if value := os.environ.get(name, "").strip():
            return value
    return None


def configure_tracing(service: str) -> TracerProvider:
    """Install this process's tracer provider (once): spans always, an OTLP/HTTP exporter when
    an endpoint is configured. Call `shutdown_tracing` on the way out to flush the last spans."""
    global _provider, _spans_on
    if _provider is not None:
        return _provider
    # The SDK's own switch: with it, the provider makes no-op spans.
    _spans_on = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"
    name = os.environ.get("OTEL_SERVICE_NAME", "").strip() or f"hub-{service}"
    endpoint = export_endpoint()
    _provider = new_provider(name, exporting=endpoint is not None)
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _provider.add_span_processor(BatchSpanProcessor(ScrubbingExporter(OTLPSpanExporter())))
        log.info("exporting traces over OTLP/HTTP to %s", _without_query(endpoint))
    trace.set_tracer_provider(_provider)
    return _provider


def new_provider(name: str, *, exporting: bool) -> TracerProvider:
    """A provider for service `name`. Not exporting, it records nothing: its spans carry ids
    only, marked not sampled, so a later hop that does export does not record them either (a
    trace is whole or absent)."""
    return TracerProvider(
        resource=Resource.create({SERVICE_NAME: name}),
        sampler=None if exporting else ALWAYS_OFF,  # None: OTEL_TRACES_SAMPLER, or always
    )


def shutdown_tracing() -> None:
    """Export what is still batched, then stop: the last hop's spans must not be lost."""
    if _provider is not None:
        _provider.shutdown()


def spans_on() -> bool:
    """Whether this process makes real spans (configured, and not OTEL_SDK_DISABLED)."""
    return _spans_on


def tracer() -> trace.Tracer:
    return _TRACER


# A proxy until `configure_tracing` installs the provider, then the provider's tracer: asking
# the provider anew for each span cost a third of a span's time.
_TRACER = trace.get_tracer(TRACER_NAME)


def context_of(traceparent: str | None) -> Context:
    """The context a `traceparent` header names as the parent; an empty one if unusable."""
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


def span_context_of(traceparent: str | None) -> SpanContext | None:
    found = trace.get_current_span(context_of(traceparent)).get_span_context()
    return found if found.is_valid else None


def traceparent_of(span: Span) -> str | None:
    """The W3C header naming `span` as the parent, or None for a span that is not real (the
    no-op one, when spans are turned off)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def root_traceparent(name: str) -> str | None:
    """A new trace for an event nothing traced caused: a span of its own, ended at once, so the
    relay's span has a real parent rather than one no back-end ever receives."""
    span = tracer().start_span(name, context=Context(), kind=SpanKind.PRODUCER)
    span.end()
    return traceparent_of(span)


def current_traceparent() -> str | None:
    return traceparent_of(trace.get_current_span())


def _end(span: Span, error: BaseException | None) -> None:
    # The exception's type only: its message may quote the message being processed.
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


def _start(name: str, kind: SpanKind, traceparent: str | None, attributes: dict[str, Any]) -> Span:
    return tracer().start_span(
        name, context=context_of(traceparent), kind=kind, attributes=attributes
    )


def _kafka_attributes(topic: str, operation: str, **more: Any) -> dict[str, Any]:
    attributes = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
    }
    # Event ids come from headers a sender controls: a bounded length, whatever was sent.
    attributes.update(
        {
            key: value[:ATTRIBUTE_MAX_CHARS] if isinstance(value, str) else value
            for key, value in more.items()
            if value is not None
        }
    )
    return attributes


def start_consumer_span(
    topic: str,
    traceparent: str | None,
    *,
    partition: int | None = None,
    offset: int | None = None,
    event_id: str | None = None,
) -> Span:
    """A span for processing one Kafka message, continuing the trace its header carried."""
    return _start(
        f"{topic} process",
        SpanKind.CONSUMER,
        traceparent,
        _kafka_attributes(
            topic,
            "process",
            **{
                "messaging.destination.partition.id": None if partition is None else str(partition),
                "messaging.kafka.offset": offset,
                "messaging.message.id": event_id,
            },
        ),
    )


@contextlib.contextmanager
def consuming(
    topic: str,
    traceparent: str | None,
    *,
    partition: int | None = None,
    offset: int | None = None,
    event_id: str | None = None,
) -> Iterator[str | None]:
    """Process one Kafka message inside its own current span; yields the `traceparent` the
    events it stages continue from (the span's, or the header's when spans are off)."""
    span = start_consumer_span(
        topic, traceparent, partition=partition, offset=offset, event_id=event_id
    )
    error: BaseException | None = None
    try:
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            yield traceparent_of(span) or traceparent
    except BaseException as raised:
        error = raised
        raise
    finally:
        _end(span, error)


@contextlib.contextmanager
def spans_ended(spans: Sequence[Span]) -> Iterator[None]:
    """End `spans` (a batch's, started together) when the batch is done, marking a failure.
    A batch of one message is that message's work: its span is the current one meanwhile, so
    the batch's own log lines carry its trace id (a larger batch's belong to no one trace)."""
    error: BaseException | None = None
    try:
        if len(spans) == 1:
            with trace.use_span(
                spans[0], end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                yield
        else:
            yield
    except BaseException as raised:
        error = raised
        raise
    finally:
        for span in spans:
            _end(span, error)


def start_producer_span(topic: str, traceparent: str | None, event_id: str | None) -> Span:
    """A span for publishing one event, child of the span that staged it."""
    return _start(
        f"{topic} publish",
        SpanKind.PRODUCER,
        traceparent,
        _kafka_attributes(topic, "send", **{"messaging.message.id": event_id}),
    )


@contextlib.contextmanager
def resuming(name: str, traceparent: str | None) -> Iterator[None]:
    """Work resumed from a stored row (a webhook delivery) in a current span continuing the
    row's trace, so the spans made meanwhile (the HTTP client's) and the log lines join it.
    A row without a trace starts none: a lone span would say nothing."""
    if span_context_of(traceparent) is None:
        yield
        return
    span = _start(name, SpanKind.INTERNAL, traceparent, {})
    error: BaseException | None = None
    try:
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            yield
    except BaseException as raised:
        error = raised
        raise
    finally:
        _end(span, error)


class PerMessage:
    """For a loop over a batch's messages: `enter(traceparent)` makes that message's span the
    current one until the next call (or the end of the block), so the log lines written for
    each message carry its trace id. The spans are the consumer's (`start_consumer_span`):
    this only points at them. A span already current in the same trace (an HTTP request's
    server span) stays current, and so it does for a message with no trace. Usable with
    `with` and, beside a session, `async with`."""

    def __init__(self) -> None:
        self._outer = otel_context.get_current()
        self._tokens: list[object] = []

    def enter(self, traceparent: str | None) -> None:
        found = span_context_of(traceparent)
        outer = trace.get_current_span(self._outer).get_span_context()
        if found is None or (outer.is_valid and outer.trace_id == found.trace_id):
            chosen = self._outer
        else:
            chosen = trace.set_span_in_context(trace.NonRecordingSpan(found), self._outer)
        self._tokens.append(otel_context.attach(chosen))

    def close(self) -> None:
        while self._tokens:
            otel_context.detach(self._tokens.pop())  # type: ignore[arg-type]

    def __enter__(self) -> PerMessage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> PerMessage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def instrument_app(app: Any) -> None:
    """Server spans for a FastAPI app's requests, continuing the caller's `traceparent`.
    Health probes are left out (they would be most of the spans and say nothing), and so are
    the ASGI layer's spans per body chunk sent or received."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/health/.*", exclude_spans=["receive", "send"]
    )


def instrument_httpx(client: Any) -> None:
    """Client spans for an httpx client's requests (the web app calling the APIs), with the
    `traceparent` header added, so each API's server span joins the page's trace."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


def aiohttp_trace_config() -> Any:
    """Client spans for an aiohttp session's requests, with the `traceparent` header added;
    the URL is recorded without its query (an endpoint's query may hold a token)."""
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config
    from yarl import URL

    def without_query(url: URL) -> str:
        return str(url.with_query(None).with_fragment(None).with_user(None))

    return create_trace_config(url_filter=without_query)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


# Attributes whose value may hold a URL's query (personal search terms, tokens): kept without it.
_URL_ATTRIBUTES = ("url.full", "http.url", "http.target")
_DROPPED_ATTRIBUTES = ("url.query",)
_TYPE_NAME = re.compile(r"[A-Za-z_][\w.]{0,99}")


class ScrubbingExporter(SpanExporter):
    """Hands spans to `exporter` without what could carry personal data: exception events keep
    only the exception's type, a status keeps no description beyond it, URLs lose their query.
    Done at export, so it holds whichever instrumentation made the span."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def scrubbed(span: ReadableSpan) -> ReadableSpan:
    attributes = dict(span.attributes or {})
    for key in _DROPPED_ATTRIBUTES:
        attributes.pop(key, None)
    for key in _URL_ATTRIBUTES:
        if isinstance(value := attributes.get(key), str):
            attributes[key] = (
                value.split("?", 1)[0] if key == "http.target" else _without_query(value)
            )
    events = [
        Event(
            event.name,
            {"exception.type": (event.attributes or {}).get("exception.type", "")},
            event.timestamp,
        )
        if event.name == "exception"
        else event
        for event in span.events
    ]
    status = span.status
    if status.description and status.status_code is StatusCode.ERROR:
        # "KeyError: 'what the payload said'" keeps "KeyError"; anything else, nothing.
        kind = status.description.split(":", 1)[0].strip()
        status = Status(StatusCode.ERROR, kind if _TYPE_NAME.fullmatch(kind) else None)
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
