"""The event envelope: Kafka headers every hub message carries beside its FHIR/JSON value.

Values stay plain FHIR resources (the contract); identity and tracing travel in headers so a
consumer can deduplicate on `event-id` without parsing the body.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opentelemetry import trace

from hub_common.observability import tracing

EVENT_ID = "event-id"
EVENT_TYPE = "event-type"
CONTENT_TYPE = "content-type"
TRACEPARENT = "traceparent"

KafkaHeaders = list[tuple[str, bytes]]


def new_traceparent() -> str:
    """A fresh W3C trace context header (version 00, sampled)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Continue the caller's trace with a new span id, or start one if the parent is unusable."""
    parts = (parent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
        return f"{parts[0]}-{parts[1]}-{secrets.token_hex(8)}-{parts[3]}"
    return new_traceparent()


def event_traceparent(given: str | None, event_type: str = "event") -> str:
    """The parent an event's relay span will continue from: the current span, when it is of
    the trace the event belongs to (an HTTP request's server span, a message's consumer span);
    else `given`, the span of the message the event answers (a batch's messages each have
    their own, none of them current); else a new trace, rooted in a span of its own (a timer's
    sweep, say). With spans turned off, a child of `given`, so each hop still has its own span
    id."""
    current = trace.get_current_span().get_span_context()
    parent = tracing.span_context_of(given)
    if current.is_valid and (parent is None or parent.trace_id == current.trace_id):
        return tracing.current_traceparent() or new_traceparent()
    if tracing.spans_on():
        if parent is not None:
            return tracing.traceparent_of(trace.NonRecordingSpan(parent)) or new_traceparent()
        return tracing.root_traceparent(f"{event_type} create") or new_traceparent()
    return child_traceparent(given)


@dataclass(frozen=True)
class Envelope:
    """Metadata of one event: its unique id, its type, its content type and its trace."""

    event_id: str
    event_type: str
    content_type: str
    traceparent: str

    @classmethod
    def new(cls, event_type: str, content_type: str, traceparent: str | None = None) -> Envelope:
        return cls(
            event_id=str(uuid.uuid4()),
            event_type=event_type,
            content_type=content_type,
            traceparent=event_traceparent(traceparent, event_type),
        )

    def to_headers_str(self) -> list[tuple[str, str]]:
        return [
            (EVENT_ID, self.event_id),
            (EVENT_TYPE, self.event_type),
            (CONTENT_TYPE, self.content_type),
            (TRACEPARENT, self.traceparent),
        ]

    def to_headers(self) -> KafkaHeaders:
        return [(name, value.encode()) for name, value in self.to_headers_str()]


def header_map(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, object] | None,
) -> dict[str, str]:
    """Kafka headers (aiokafka tuples or a FastStream mapping) as a str -> str dict."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, bytes):
            result[name] = value.decode("utf-8", errors="replace")
        else:
            result[name] = str(value)
    return result
