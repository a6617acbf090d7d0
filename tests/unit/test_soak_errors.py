"""The soak judges "no error" by the services' log lines, in either log format."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from benchmarks.soak import error_lines, is_error_line
from hub_common.observability.logs import JsonLineFormatter


def _json_line(level: int) -> str:
    record = logging.LogRecord("hub", level, __file__, 1, "referral %s", ("r-1",), None)
    return JsonLineFormatter("router").format(record)


def test_error_records_are_counted_in_json_and_text(tmp_path: Path) -> None:
    assert json.loads(_json_line(logging.ERROR))["level"] == "ERROR"
    assert is_error_line(_json_line(logging.ERROR))
    assert is_error_line(_json_line(logging.CRITICAL))
    assert not is_error_line(_json_line(logging.WARNING))
    # A message that merely says ERROR is not an error record.
    assert not is_error_line(json.dumps({"level": "INFO", "message": "an ERROR word"}))
    assert is_error_line("2026-12-03 10:00:00,000 router ERROR hub: referral r-1")
    assert not is_error_line("2026-12-03 10:00:00,000 router INFO hub: referral r-1")
    (tmp_path / "router.log").write_text(
        "\n".join([_json_line(logging.ERROR), _json_line(logging.INFO)]) + "\n"
    )
    assert error_lines(tmp_path) == 1
