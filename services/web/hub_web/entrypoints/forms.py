"""Reading the forms' fields into commands, with messages a person can act on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from itertools import zip_longest
from typing import Any

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import InvalidOutputs, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import InstrumentSpec

MAX_NOTE_CHARS = 500  # the router's limit on statusReason and decline reasons
MAX_SUMMARY_CHARS = 500  # the router's limit on the `outcome` summary
SUPPORT_ROWS = 5  # rows the closing form offers (no JavaScript to add more)
MAX_SUPPORT_ROWS = 50  # the router's limit


class FormProblem(ValueError):
    """Something in a form that needs correcting, said so the person can correct it."""


def note(text: str | None, *, required: bool = False, what: str = "A note") -> str | None:
    cleaned = (text or "").strip()
    if required and not cleaned:
        raise FormProblem(f"{what} is required")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise FormProblem(f"{what} must be at most {MAX_NOTE_CHARS} characters")
    return cleaned or None


def answers(values: Mapping[str, str], spec: InstrumentSpec) -> tuple[tuple[str, int], ...]:
    """The instrument's answers from fields named after its items (`satisfied`, `useful`, ...)."""
    found = []
    for question in spec.questions:
        raw = (values.get(question.code) or "").strip()
        if not raw.isdigit() or not question.low <= int(raw) <= question.high:
            raise FormProblem(
                f"Answer every wellbeing question with a whole number from {question.low} to "
                f"{question.high} ({question.text})"
            )
        found.append((question.code, int(raw)))
    return tuple(found)


def support(
    needs: Sequence[str], services: Sequence[str], kinds: Sequence[str]
) -> tuple[SupportOffered, ...]:
    """The support offered, one row per need, service and kind; rows left blank are skipped."""
    rows = list(zip_longest(needs, services, kinds, fillvalue=""))
    if len(rows) > MAX_SUPPORT_ROWS:
        raise FormProblem(f"Record at most {MAX_SUPPORT_ROWS} services or activities")
    found = []
    for number, (need, service, kind) in enumerate(rows, start=1):
        if not need.strip() and not service.strip():
            continue
        if not service.strip():
            raise FormProblem(f"Support {number}: name the service or activity")
        if need not in set(NeedCategory):
            raise FormProblem(f"Support {number}: choose the need it meets")
        if kind not in set(SupportKind):
            raise FormProblem(
                f"Support {number}: say whether the person was referred, signposted or attended"
            )
        try:
            found.append(SupportOffered(NeedCategory(need), SupportKind(kind), service))
        except InvalidOutputs as error:
            raise FormProblem(f"Support {number}: {error}") from None
    return tuple(found)


def summary(text: str | None) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) > MAX_SUMMARY_CHARS:
        raise FormProblem(f"The summary must be at most {MAX_SUMMARY_CHARS} characters")
    return cleaned


PLAN_ROWS = 3
"""Goal and action rows offered beyond those already in the plan."""
ACTION_BY = (
    ("person", "The person"),
    ("link-worker", "Link worker"),
    ("service", "Community service"),
)
"""Who carries an action out, worded as the router's CarePlan names them."""


def _day(raw: str, what: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise FormProblem(f"{what} is not a date: use the date picker or YYYY-MM-DD") from None


def care_plan(values: Mapping[str, str]) -> tuple[dict[str, Any], int | None]:
    """The router's `$care-plan` body from the plan form, and the version it replaces. Rows
    left empty are skipped; a row with a date or a choice but no words is a problem."""
    what_matters = note(
        values.get("what_matters"), required=True, what="What matters to the person"
    )
    goals, actions = [], []
    rows = sorted({key.split("-")[1] for key in values if key.startswith(("goal-", "action-"))})
    for row in rows:
        words = (values.get(f"goal-{row}-description") or "").strip()
        if words:
            goal: dict[str, Any] = {"description": note(words, what="A goal")}
            if need := values.get(f"goal-{row}-need"):
                goal["need"] = need
            if target := _day(values.get(f"goal-{row}-target") or "", "A goal's target date"):
                goal["targetDate"] = target
            goal["achieved"] = values.get(f"goal-{row}-achieved") == "yes"
            goals.append(goal)
        elif values.get(f"goal-{row}-target"):
            raise FormProblem("A goal with a target date needs words: what the person wants")
        words = (values.get(f"action-{row}-description") or "").strip()
        if words:
            action: dict[str, Any] = {
                "description": note(words, what="An action"),
                "by": values.get(f"action-{row}-by") or "person",
                "done": values.get(f"action-{row}-done") == "yes",
            }
            if due := _day(values.get(f"action-{row}-due") or "", "An action's date"):
                action["due"] = due
            actions.append(action)
        elif values.get(f"action-{row}-due"):
            raise FormProblem("An action with a date needs words: what will be done")
    version = (values.get("version") or "").strip()
    body = {"whatMatters": what_matters, "goals": goals, "actions": actions}
    return body, int(version) if version.isdigit() else None
