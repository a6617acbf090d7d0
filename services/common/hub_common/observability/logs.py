"""Log configuration shared by the services.

The hub's logs carry ids and counts only: no name, NHS number, address or free text ever goes
into a log call. Messages about a referral name it by the hub's referral id.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

# C0 and C1 control characters and DEL: a CR or LF would start a forged line, an ANSI escape
# (ESC) would rewrite what a terminal shows. Tab is kept: it cannot break a line.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def escape_control_characters(text: str) -> str:
    """`text` on one line: every control character as a visible escape (`\\n`, `\\x1b`)."""
    return CONTROL_CHARACTERS.sub(lambda match: repr(match.group())[1:-1], text)


class OneLineFormatter(logging.Formatter):
    """A log record is one line, always: whatever a message quotes (an id from a request, a
    Kafka header) cannot forge another line, and a library's traceback stays inside its own
    record (its line breaks shown as `\\n`), so every line starts with the time and service."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_control_characters(super().format(record))


class TraceIds(logging.Filter):
    """Adds the current span's trace and span ids to each record (`trace_id`, `span_id`, hex as
    trace back-ends show them), so a line can be found from its trace and a trace from a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


JSON_FIELDS = ("time", "level", "service", "logger", "message", "trace_id", "span_id", "exc_info")
"""What a JSON line holds, and nothing else: a library's `extra` fields (FastStream's quote
Kafka headers) never reach the log."""


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line. JSON escaping keeps a record on its line; control characters
    are also shown as visible escapes in every value, so `jq -r .message` cannot replay a
    terminal escape either."""

    def __init__(self, service: str) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"service": service},
            timestamp="time",
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        for name in ("trace_id", "span_id"):
            if value := getattr(record, name, None):
                log_data[name] = value

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            name: escape_control_characters(value) if isinstance(value, str) else value
            for name in JSON_FIELDS
            if (value := log_data.get(name)) is not None
        }


class TextLineFormatter(OneLineFormatter):
    """For people at a terminal (HUB_LOG_FORMAT=text): the time, the service, the level, the
    logger, the message, and the trace id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", None)
        return f"{line} trace_id={trace_id}" if trace_id else line


LOG_FORMATS = ("json", "text")


def configure_logging(service: str, level: str = "INFO", log_format: str = "json") -> None:
    """Every record on stderr, one line each: JSON lines by default (what log collectors read),
    text (`HUB_LOG_FORMAT=text`) for people at a terminal."""
    chosen = log_format.strip().lower()
    if chosen not in LOG_FORMATS:
        raise ValueError(f"HUB_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {chosen!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceIds())
    handler.setFormatter(
        JsonLineFormatter(service)
        if chosen == "json"
        else TextLineFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream writes to a handler of its own (colours, no service name) and forwards
    # message ids from Kafka headers verbatim: its lines go through ours instead.
    faststream = logging.getLogger("faststream")
    faststream.handlers[:] = []
    faststream.propagate = True
    # aiokafka reports every reconnect attempt at ERROR; ours already say what is retried.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
