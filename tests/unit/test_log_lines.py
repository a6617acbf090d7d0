"""A log record is one line: control characters in what it quotes cannot forge another."""

from __future__ import annotations

import io
import logging
import re

from hypothesis import given
from hypothesis import strategies as st

from hub_common.observability.logs import OneLineFormatter, escape_control_characters

PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} intake (INFO|ERROR) test\.logs: ")


def format_one(message: str, *args: object, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(asctime)s intake %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if exc:
        try:
            raise ValueError("first line\nsecond line")
        except ValueError:
            logger.exception(message, *args)
    else:
        logger.info(message, *args)
    return stream.getvalue()


def test_cr_lf_and_ansi_escapes_are_shown_not_obeyed() -> None:
    forged = "id-1\r\n2026-01-01 00:00:00,000 intake INFO forged: admin signed in\x1b[2J"
    text = format_one("referral %s accepted", forged)
    assert text.count("\n") == 1 and text.endswith("\n")
    assert PREFIX.match(text)
    assert "\\r\\n2026-01-01" in text and "\\x1b[2J" in text and "\x1b" not in text


def test_a_traceback_stays_inside_its_record() -> None:
    text = format_one("failed on %s", "x", exc=True)
    assert text.count("\n") == 1 and PREFIX.match(text)
    assert "Traceback" in text and "first line\\nsecond line" in text


def test_tabs_and_printable_text_are_kept() -> None:
    assert escape_control_characters("a\tb é ✓") == "a\tb é ✓"


@given(st.text())
def test_any_message_is_one_line_with_the_prefix(message: str) -> None:
    text = format_one("%s", message)
    assert len(text.splitlines()) == 1 and PREFIX.match(text)
