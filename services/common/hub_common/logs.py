"""Log configuration shared by the services.

The hub's logs carry ids and counts only: no name, NHS number, address or free text ever goes
into a log call. Messages about a referral name it by the hub's referral id.
"""

from __future__ import annotations

import logging
import re
import sys

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


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OneLineFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
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
