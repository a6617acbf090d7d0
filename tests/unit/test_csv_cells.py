"""CSV cells a spreadsheet could run as formulas are escaped (OWASP "CSV Injection")."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from hub_notifier.domain.csv_cells import ESCAPE, FORMULA_STARTS, csv_record, escape_cell

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]
# Cells starting with a formula character, or anything at all.
cells = st.one_of(
    st.text(),
    st.builds(lambda start, rest: start + rest, st.sampled_from(FORMULA_STARTS), st.text()),
)


def parsed(record: str) -> list[str]:
    return next(csv.reader(io.StringIO(record, newline="")))


def test_each_formula_start_is_prefixed_with_a_quote() -> None:
    for value in HOSTILE:
        assert escape_cell(value) == "'" + value
    assert parsed(csv_record(HOSTILE)) == ["'" + value for value in HOSTILE]


def test_plain_values_are_left_alone() -> None:
    for value in ("Gloria Mensah", "1972-07-08", "O'Neill", "", "a=b", "2026-11-23T10:00:00+00:00"):
        assert escape_cell(value) == value


@given(st.lists(cells, min_size=1, max_size=6))
def test_no_cell_read_back_starts_a_formula_unless_prefixed(row: list[str]) -> None:
    read_back = parsed(csv_record(row))
    assert len(read_back) == len(row)
    for original, cell in zip(row, read_back, strict=True):
        assert not cell.startswith(FORMULA_STARTS)
        # Nothing else is lost: the cell is the original, or the original behind the quote.
        assert cell in (original, ESCAPE + original) or cell == original.replace("\r\n", "\n")


@given(st.lists(cells, min_size=1, max_size=6))
def test_a_record_is_one_row_however_many_line_breaks_its_cells_hold(row: list[str]) -> None:
    rows = list(csv.reader(io.StringIO(csv_record(row) * 2, newline="")))
    assert len(rows) == 2
