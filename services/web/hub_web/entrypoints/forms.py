"""Reading the forms' fields into commands, with messages a person can act on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import zip_longest

from hub_common.needs import NeedCategory
from hub_common.task_outputs import InvalidOutputs, SupportKind, SupportOffered
from hub_common.wellbeing import InstrumentSpec

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
