"""CSV for spreadsheets, safe from formula injection (OWASP "CSV Injection").

A spreadsheet opening a CSV runs any cell that starts with `=`, `+`, `-` or `@` as a formula
(and some treat a leading tab or carriage return the same way), so a patient name typed as
`=HYPERLINK("http://evil","click")` would become a live link, or worse, in the referrer's
spreadsheet. Every such cell is prefixed with a single quote, which spreadsheets show as text.
Quoting of commas, quotes and line breaks is left to the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def escape_cell(value: str) -> str:
    """The cell as a spreadsheet will show it as text, never run it."""
    return f"{ESCAPE}{value}" if value.startswith(FORMULA_STARTS) else value


def csv_record(cells: Sequence[str]) -> str:
    """One row as a CSV record (CRLF-terminated, as RFC 4180 says), every cell escaped."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([escape_cell(cell) for cell in cells])
    return buffer.getvalue()
