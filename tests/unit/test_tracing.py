"""The trace plumbing without a broker: consumer, event and relay spans chain into one trace;
what is exported carries no exception text or URL query; log lines carry the trace id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub_common.messaging.envelope import Envelope
from hub_common.observability import tracing
from hub_common.observability.logs import (
    JsonLineFormatter,
    TextLineFormatter,
    TraceIds,
    configure_logging,
)

AGENCY_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENCY_SPAN = "00f067aa0ba902b7"
AGENCY = f"00-{AGENCY_TRACE}-{AGENCY_SPAN}-01"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans on, into memory, through the scrubbing exporter the services use."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(tracing.ScrubbingExporter(memory)))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("test"))
    monkeypatch.setattr(tracing, "_spans_on", True)
    yield memory
    provider.shutdown()


def test_a_message_its_event_and_the_next_hop_form_one_chain(
    exported: InMemorySpanExporter,
) -> None:
    with tracing.consuming("referrals.inbound.community", AGENCY, partition=0, offset=7) as tp:
        staged = Envelope.new("ReferralRequested", "application/fhir+json", tp)
    # The outbox row keeps the staging span; the relay publishes later, as its child.
    publish = tracing.start_producer_span("referrals.requested", staged.traceparent, "e-1")
    header = tracing.traceparent_of(publish)
    publish.end()
    with tracing.consuming("referrals.requested", header, event_id="e-1"):
        pass

    consumed, published, next_hop = exported.get_finished_spans()
    assert {span.context.trace_id for span in (consumed, published, next_hop)} == {
        int(AGENCY_TRACE, 16)
    }
    assert consumed.parent is not None and consumed.parent.span_id == int(AGENCY_SPAN, 16)
    assert published.parent is not None and published.parent.span_id == consumed.context.span_id
    assert next_hop.parent is not None and next_hop.parent.span_id == published.context.span_id
    assert published.kind is trace.SpanKind.PRODUCER and next_hop.kind is trace.SpanKind.CONSUMER
    assert next_hop.attributes is not None
    assert next_hop.attributes["messaging.message.id"] == "e-1"


def test_an_event_of_a_batch_continues_its_own_message_not_the_current_span(
    exported: InMemorySpanExporter,
) -> None:
    other = tracing.start_consumer_span("t", None)  # another message's trace, current
    with trace.use_span(other, end_on_exit=True):
        staged = Envelope.new("TaskChanged", "application/fhir+json", AGENCY)
    assert staged.traceparent == AGENCY


def test_without_export_spans_record_nothing_but_each_still_has_its_own_ids() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    quiet = tracing.new_provider("hub-test", exporting=False).get_tracer("test")
    span = quiet.start_span("hop", context=tracing.context_of(parent))
    assert not span.is_recording()
    own = span.get_span_context()
    assert own.is_valid and format(own.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(own.span_id, "016x") != "b7ad6b7169203331"
    assert not own.trace_flags.sampled  # so no later hop records a part of the trace
    exporting = tracing.new_provider("hub-test", exporting=True).get_tracer("test")
    assert exporting.start_span("hop", context=tracing.context_of(parent)).is_recording()


def test_without_spans_each_hop_still_gets_its_own_span_id() -> None:
    staged = Envelope.new("TaskChanged", "application/fhir+json", AGENCY)
    _, trace_id, span_id, _ = staged.traceparent.split("-")
    assert trace_id == AGENCY_TRACE and span_id != AGENCY_SPAN
    assert Envelope.new("TaskChanged", "x", "garbage").traceparent.count("-") == 3


def test_exported_spans_keep_no_exception_text_or_url_query(
    exported: InMemorySpanExporter,
) -> None:
    span = tracing.tracer().start_span(
        "GET /fhir/Task",
        attributes={
            "url.full": "https://user:pw@hub.example/fhir/Task?name=Gloria",
            "http.target": "/fhir/Task?name=Gloria",
            "url.query": "name=Gloria",
            "http.route": "/fhir/Task",
        },
    )
    span.record_exception(ValueError("Gloria Mensah, 9434765919"))
    span.set_status(trace.Status(trace.StatusCode.ERROR, "ValueError: Gloria Mensah"))
    span.end()
    with pytest.raises(KeyError), tracing.consuming("t", None):
        raise KeyError("Gloria")

    first, second = exported.get_finished_spans()
    text = repr(
        [(s.attributes, [e.attributes for e in s.events], s.status) for s in (first, second)]
    )
    assert "Gloria" not in text and "9434765919" not in text and "pw" not in text
    assert first.attributes is not None
    assert first.attributes["url.full"] == "https://hub.example/fhir/Task"
    assert first.attributes["http.target"] == "/fhir/Task"
    assert "url.query" not in first.attributes
    assert [e.attributes for e in first.events] == [{"exception.type": "ValueError"}]
    assert first.status.description == "ValueError"
    assert second.status.status_code is trace.StatusCode.ERROR
    assert second.status.description == "KeyError"


def _one_line(formatter: logging.Formatter, message: str, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceIds())
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.tracing.lines")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(message, *args, extra={"message_id": "from a header"})
    return stream.getvalue()


def test_a_json_line_carries_the_trace_id_and_nothing_a_library_adds() -> None:
    provider = TracerProvider()
    span = provider.get_tracer("test").start_span("work")
    with trace.use_span(span, end_on_exit=True):
        line = _one_line(JsonLineFormatter("router"), "referral %s offered", "r-1\n\x1b[2Jforged")
    assert line.count("\n") == 1
    record = json.loads(line)
    assert set(record) == {"time", "level", "service", "logger", "message", "trace_id", "span_id"}
    assert record["service"] == "router" and record["level"] == "WARNING"
    assert record["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert record["message"] == "referral r-1\\n\\x1b[2Jforged offered"


def test_a_text_line_ends_with_the_trace_id_and_none_outside_a_span() -> None:
    provider = TracerProvider()
    span = provider.get_tracer("test").start_span("work")
    formatter = TextLineFormatter("%(levelname)s %(message)s")
    with trace.use_span(span, end_on_exit=True):
        inside = _one_line(formatter, "hello")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert inside == f"WARNING hello trace_id={trace_id}\n"
    assert _one_line(formatter, "hello") == "WARNING hello\n"
    assert "trace_id" not in json.loads(_one_line(JsonLineFormatter("intake"), "hello"))


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="HUB_LOG_FORMAT"):
        configure_logging("intake", log_format="xml")


def test_a_batch_of_one_is_its_messages_work_a_larger_batch_no_ones(
    exported: InMemorySpanExporter,
) -> None:
    alone = [tracing.start_consumer_span("t", AGENCY)]
    with tracing.spans_ended(alone):
        assert trace.get_current_span() is alone[0]
    several = [tracing.start_consumer_span("t", AGENCY) for _ in range(2)]
    with tracing.spans_ended(several):
        assert not trace.get_current_span().get_span_context().is_valid
    assert len(exported.get_finished_spans()) == 3


def test_an_event_nothing_traced_caused_starts_a_trace_with_a_real_root(
    exported: InMemorySpanExporter,
) -> None:
    staged = Envelope.new("SlaBreached", "application/json")
    [root] = exported.get_finished_spans()
    assert root.parent is None and root.name == "SlaBreached create"
    assert staged.traceparent == tracing.traceparent_of(trace.NonRecordingSpan(root.context))


def test_each_message_of_a_loop_is_current_in_turn_and_a_request_span_stays(
    exported: InMemorySpanExporter,
) -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    request = tracing.start_consumer_span("t", AGENCY)  # stands for an HTTP server span
    with trace.use_span(request, end_on_exit=True), tracing.PerMessage() as each:
        each.enter(other)
        assert format(trace.get_current_span().get_span_context().trace_id, "032x") == "1" * 32
        each.enter(AGENCY)  # the request's own trace: its span, more precise, stays current
        assert trace.get_current_span() is request
        each.enter(None)
        assert trace.get_current_span() is request
    assert not trace.get_current_span().get_span_context().is_valid
