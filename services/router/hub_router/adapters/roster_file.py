"""Reading a link worker roster file (CSV columns of docs/contract.md, or a JSON list of rows).

The whole file is checked before anything is published: a roster is the directory of who may
be offered referrals, so one misspelt borough would quietly leave a worker out of routing.
Every problem is reported at once, each naming the file, the row and the column.

The roster is the router's input (its rows become the `LinkWorker`s the policy weighs), so
the router owns its reader; `referral-hub workers load` and the rebalance report both reach
it through `hub_router.public`.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hub_common.fhir.needs import NeedCategory
from hub_common.region.service_area import service_area
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
REQUIRED = ("worker_id", "name", "boroughs", "postcode_districts")
"""Without an id and a name there is no one to publish; without a patch (boroughs and
districts) the worker could never be offered a referral."""

COLUMN_HELP = {
    "worker_id": "the worker's unique id (required), e.g. lw-croydon-01",
    "name": "their name as people see it (required)",
    "email": "where offers are e-mailed (optional)",
    "boroughs": "';'-separated local authorities of the service area (required; "
    "`referral-hub service-area show` lists them), e.g. Croydon;Merton",
    "postcode_districts": "';'-separated outward codes the hub serves, e.g. CR0;CR7 (required)",
    "needs": f"';'-separated need categories, of {', '.join(n.value for n in NeedCategory)}",
    "languages": "';'-separated BCP 47 codes, e.g. en;tw (default en)",
    "max_caseload": "open referrals at most (default 40)",
    "max_new_per_day": "new referrals a day at most (default 12)",
    "working_days": "';'-separated of Mon;Tue;Wed;Thu;Fri;Sat;Sun (default Mon-Fri)",
    "leave_from": "start of leave, YYYY-MM-DD (with leave_to)",
    "leave_to": "end of leave, YYYY-MM-DD",
    "risk_cleared": "Y if cleared for visits flagged as risky (default N)",
    "active": "N to take the worker out of routing (default Y)",
}
WORKER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class RosterEntry:
    worker: LinkWorker
    name: str
    email: str | None


class RosterError(ValueError):
    """A roster that cannot be loaded: every problem, each naming the row and the column."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"{file}: {count}, nothing published:\n" + "\n".join(f"  {p}" for p in problems)
        )


def _list(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(";") if part.strip()]


def _close(word: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""


class _Row:
    """One row's checks: each problem is noted and reading goes on."""

    def __init__(self, row: dict[str, Any], line: int, problems: list[str]) -> None:
        self.row, self.line, self.problems = row, line, problems

    def text(self, column: str) -> str:
        return str(self.row.get(column) or "").strip()

    def problem(self, column: str, message: str) -> None:
        self.problems.append(f"row {self.line}, column {column}: {message}")

    def yes(self, column: str, default: bool) -> bool:
        text = self.text(column).upper()
        if text and text not in ("Y", "N"):
            self.problem(column, f"expected Y or N, got {self.text(column)!r}")
        return default if text not in ("Y", "N") else text == "Y"

    def number(self, column: str, default: int) -> int:
        text = self.text(column)
        if not text:
            return default
        if not text.isdigit() or int(text) <= 0:
            self.problem(column, f"expected a positive whole number, got {text!r}")
            return default
        return int(text)


def entry_from_row(row: dict[str, Any], line: int, problems: list[str]) -> RosterEntry | None:
    """The row's entry, or None when it has problems (each appended to `problems`)."""
    before = len(problems)
    check = _Row(row, line, problems)
    worker_id = check.text("worker_id")
    if not worker_id:
        check.problem("worker_id", "required")
    elif not WORKER_ID.match(worker_id):
        check.problem("worker_id", f"{worker_id!r}: letters, digits, '.', '_' or '-' only")
    if not check.text("name"):
        check.problem("name", "required")
    email = check.text("email")
    if email and not EMAIL.match(email):
        check.problem("email", f"{email!r} is not an e-mail address")

    boroughs = _list(row.get("boroughs"))
    if not boroughs:
        check.problem("boroughs", "required: at least one borough the worker covers")
    area = service_area()
    for borough in boroughs:
        if borough not in area.boroughs:
            check.problem(
                "boroughs", f"unknown borough {borough!r}{_close(borough, area.boroughs)}"
            )
    districts = [d.upper() for d in _list(row.get("postcode_districts"))]
    if not districts:
        check.problem("postcode_districts", "required: at least one postcode district")
    served = area.district_boroughs
    for district in districts:
        if not DISTRICT.match(district):
            check.problem("postcode_districts", f"{district!r} is not a postcode district (CR0)")
        elif district not in served:
            check.problem(
                "postcode_districts",
                f"{district!r} is not a district the hub serves{_close(district, served)}",
            )

    needs: set[NeedCategory] = set()
    for need in _list(row.get("needs")):
        try:
            needs.add(NeedCategory(need))
        except ValueError:
            known = [n.value for n in NeedCategory]
            check.problem("needs", f"unknown need {need!r}{_close(need, known)}")
    languages = _list(row.get("languages"))
    for language in languages:
        if not LANGUAGE.match(language):
            check.problem("languages", f"{language!r} is not a BCP 47 language code (en, tw)")
    days = _list(row.get("working_days"))
    for day in days:
        if day not in WEEKDAYS:
            check.problem("working_days", f"unknown day {day!r}; use Mon;Tue;Wed;Thu;Fri;Sat;Sun")
    leave: tuple[tuple[date, date], ...] = ()
    if check.text("leave_from") or check.text("leave_to"):
        try:
            start = date.fromisoformat(check.text("leave_from"))
            end = date.fromisoformat(check.text("leave_to"))
        except ValueError:
            check.problem("leave_from", "leave needs leave_from and leave_to as YYYY-MM-DD")
        else:
            if end < start:
                check.problem("leave_to", f"leave ends ({end}) before it starts ({start})")
            leave = ((start, end),)
    max_caseload = check.number("max_caseload", 40)
    max_new_per_day = check.number("max_new_per_day", 12)
    risk_cleared = check.yes("risk_cleared", False)
    active = check.yes("active", True)
    if len(problems) > before:
        return None
    worker = LinkWorker(
        worker_id=worker_id,
        boroughs=frozenset(boroughs),
        postcode_districts=frozenset(districts),
        needs=frozenset(needs),
        languages=frozenset(languages) or frozenset({"en"}),
        max_caseload=max_caseload,
        max_new_per_day=max_new_per_day,
        working_days=frozenset(days) if days else frozenset(WEEKDAYS[:5]),
        leave=leave,
        risk_cleared=risk_cleared,
        active=active,
    )
    return RosterEntry(worker, check.text("name"), email or None)


def _rows(path: Path, text: str, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(f"not JSON: {error}")
            return []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            problems.append("a JSON roster is a list of objects with the CSV's column names")
            return []
        columns = {key for row in rows for key in row}
        found = list(enumerate(rows, start=1))
        present = columns
    else:
        reader = csv.DictReader(io.StringIO(text))
        present = set(reader.fieldnames or [])
        found = list(enumerate(reader, start=2))
        columns = present
    if missing := [c for c in REQUIRED if c not in present]:
        problems.append(
            f"header: missing required column(s) {', '.join(missing)}; "
            f"the columns are {', '.join(COLUMNS)}"
        )
    for unknown in sorted(columns - set(COLUMNS) - {None}):
        problems.append(f"header: unknown column {unknown!r}{_close(str(unknown), COLUMNS)}")
    return found


def read_roster(path: Path) -> list[RosterEntry]:
    """Every entry of the file; RosterError listing every problem when there is any."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RosterError(str(path), [f"cannot be read: {error.strerror or error}"]) from None
    except UnicodeDecodeError:
        raise RosterError(str(path), ["is not UTF-8 text (save the CSV as UTF-8)"]) from None
    problems: list[str] = []
    rows = _rows(path, text, problems)
    if not rows and not problems:
        problems.append("has no workers")
    if problems:  # a header problem makes every row wrong: say it alone
        raise RosterError(str(path), problems)
    entries: list[RosterEntry] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        entry = entry_from_row(row, line, problems)
        worker_id = str(row.get("worker_id") or "").strip()
        if worker_id and worker_id in first_line:
            problems.append(
                f"row {line}, column worker_id: {worker_id!r} is already on row "
                f"{first_line[worker_id]}"
            )
        first_line.setdefault(worker_id, line)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise RosterError(str(path), problems)
    return entries
