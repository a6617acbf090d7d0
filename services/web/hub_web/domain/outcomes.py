"""Outcomes a link worker records: ONS4 wellbeing scores at first contact and at closure.

The router's Task API takes outputs as one `outcome` text and a list of services connected, so
the scores travel inside that text in a fixed, readable form that this module writes and reads
back: a later step (closing) must keep the first-contact scores it cannot otherwise see again.
The time of first contact rides along, since no API keeps a Task's history for the charts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_OUTCOME_CHARS = 500  # the router's limit on Task.output `outcome`
MAX_SUMMARY_CHARS = 300  # leaves room for both score lines within MAX_OUTCOME_CHARS

ONS4_QUESTIONS = (
    ("satisfied", "Overall, how satisfied are you with your life nowadays?"),
    (
        "worthwhile",
        "Overall, to what extent do you feel the things you do in your life are worthwhile?",
    ),
    ("happy", "Overall, how happy did you feel yesterday?"),
    ("anxious", "Overall, how anxious did you feel yesterday?"),
)
"""The ONS personal wellbeing questions, each answered 0 (not at all) to 10 (completely)."""

_READING = re.compile(
    r"ONS4 (?P<when>first contact|closure) (?P<at>\S+): satisfied (?P<satisfied>\d+), "
    r"worthwhile (?P<worthwhile>\d+), happy (?P<happy>\d+), anxious (?P<anxious>\d+)\."
)
_SUMMARY = re.compile(r"Summary: (?P<summary>.*)\Z", re.DOTALL)


class InvalidScores(ValueError):
    """A wellbeing score outside 0-10, or a summary that does not fit."""


@dataclass(frozen=True)
class Ons4:
    """One set of ONS4 answers, each 0-10 (anxiety: 10 is the most anxious)."""

    satisfied: int
    worthwhile: int
    happy: int
    anxious: int

    def __post_init__(self) -> None:
        for name, _ in ONS4_QUESTIONS:
            value = getattr(self, name)
            if not 0 <= value <= 10:
                raise InvalidScores(f"{name} must be between 0 and 10, not {value}")


@dataclass(frozen=True)
class Reading:
    """ONS4 answers and when they were taken."""

    at: datetime
    scores: Ons4

    def text(self, when: str) -> str:
        s = self.scores
        stamp = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        return (
            f"ONS4 {when} {stamp}: satisfied {s.satisfied}, worthwhile {s.worthwhile}, "
            f"happy {s.happy}, anxious {s.anxious}."
        )


@dataclass(frozen=True)
class OutcomeRecord:
    """What the Task's `outcome` output says: scores at first contact and closure, a summary."""

    first_contact: Reading | None = None
    closure: Reading | None = None
    summary: str = ""

    def to_text(self) -> str:
        """The `outcome` text to send; never empty (the router requires an outcome)."""
        if len(self.summary) > MAX_SUMMARY_CHARS:
            raise InvalidScores(f"the summary must be at most {MAX_SUMMARY_CHARS} characters")
        parts = []
        if self.first_contact:
            parts.append(self.first_contact.text("first contact"))
        if self.closure:
            parts.append(self.closure.text("closure"))
        if self.summary.strip():
            parts.append(f"Summary: {self.summary.strip()}")
        return " ".join(parts) or "No outcome recorded yet."


def _reading(match: re.Match[str]) -> Reading | None:
    try:
        at = datetime.strptime(match["at"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
        scores = Ons4(*(int(match[name]) for name, _ in ONS4_QUESTIONS))
    except (ValueError, InvalidScores):
        return None
    return Reading(at, scores)


def parse_outcome(text: str | None) -> OutcomeRecord:
    """Read back what `OutcomeRecord.to_text` wrote; other text becomes the summary."""
    if not text:
        return OutcomeRecord()
    readings = {m["when"]: _reading(m) for m in _READING.finditer(text)}
    summary = _SUMMARY.search(text)
    if summary is None and not readings:
        return OutcomeRecord(summary=text.strip())
    return OutcomeRecord(
        first_contact=readings.get("first contact"),
        closure=readings.get("closure"),
        summary=summary["summary"].strip() if summary else "",
    )
