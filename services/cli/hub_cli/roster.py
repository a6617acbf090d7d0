"""Reading a link worker roster file (CSV columns of docs/contract.md, or a JSON list of rows)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hub_common.needs import NeedCategory
from hub_router.domain.model import WEEKDAYS, LinkWorker

COLUMNS = (
    "worker_id",
    "name",
    "email",
    "boroughs",
    "postcode_districts",
    "needs",
    "languages",
    "max_caseload",
    "max_new_per_day",
    "working_days",
    "leave_from",
    "leave_to",
    "risk_cleared",
    "active",
)


@dataclass(frozen=True)
class RosterEntry:
    worker: LinkWorker
    name: str
    email: str | None


class RosterError(ValueError):
    """A roster row that cannot be loaded, naming the row and the column."""


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _yes(value: str | None, default: bool, where: str) -> bool:
    text = (value or "").strip().upper()
    if not text:
        return default
    if text not in ("Y", "N"):
        raise RosterError(f"{where}: expected Y or N")
    return text == "Y"


def _number(value: str | None, default: int, where: str) -> int:
    text = (value or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise RosterError(f"{where}: expected a positive whole number")
    return int(text)


def entry_from_row(row: dict[str, Any], line: int) -> RosterEntry:
    def where(column: str) -> str:
        return f"row {line}, column {column}"

    worker_id = (row.get("worker_id") or "").strip()
    if not worker_id:
        raise RosterError(f"{where('worker_id')}: required")
    try:
        needs = frozenset(NeedCategory(n) for n in _list(row.get("needs")))
    except ValueError as error:
        raise RosterError(f"{where('needs')}: {error}") from None
    days = _list(row.get("working_days"))
    if unknown := [d for d in days if d not in WEEKDAYS]:
        raise RosterError(f"{where('working_days')}: unknown day {unknown[0]!r}; use Mon;Tue;...")
    leave: tuple[tuple[date, date], ...] = ()
    if (row.get("leave_from") or "").strip():
        try:
            leave = (
                (
                    date.fromisoformat(row["leave_from"].strip()),
                    date.fromisoformat(row["leave_to"].strip()),
                ),
            )
        except (KeyError, ValueError, AttributeError):
            raise RosterError(
                f"{where('leave_from')}: leave needs leave_from and leave_to as YYYY-MM-DD"
            ) from None
    worker = LinkWorker(
        worker_id=worker_id,
        boroughs=frozenset(_list(row.get("boroughs"))),
        postcode_districts=frozenset(d.upper() for d in _list(row.get("postcode_districts"))),
        needs=needs,
        languages=frozenset(_list(row.get("languages"))) or frozenset({"en"}),
        max_caseload=_number(row.get("max_caseload"), 40, where("max_caseload")),
        max_new_per_day=_number(row.get("max_new_per_day"), 12, where("max_new_per_day")),
        working_days=frozenset(days) if days else frozenset(WEEKDAYS[:5]),
        leave=leave,
        risk_cleared=_yes(row.get("risk_cleared"), False, where("risk_cleared")),
        active=_yes(row.get("active"), True, where("active")),
    )
    return RosterEntry(
        worker, (row.get("name") or worker_id).strip(), (row.get("email") or "").strip() or None
    )


def read_roster(path: Path) -> list[RosterEntry]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise RosterError("a JSON roster is a list of objects with the CSV's column names")
        return [entry_from_row(row, line) for line, row in enumerate(rows, start=1)]
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("worker_id", "name") if c not in (reader.fieldnames or [])]
    if missing:
        raise RosterError(
            f"header row lacks the column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
        )
    return [entry_from_row(row, line) for line, row in enumerate(reader, start=2)]
