"""Reading the forms' fields into commands, with messages a person can act on."""

from __future__ import annotations

from hub_web.domain.outcomes import MAX_SUMMARY_CHARS, ONS4_QUESTIONS, InvalidScores, Ons4

MAX_NOTE_CHARS = 500  # the router's limit on statusReason and decline reasons
MAX_SERVICES = 50


class FormProblem(ValueError):
    """Something in a form that needs correcting, said so the person can correct it."""


def note(text: str | None, *, required: bool = False, what: str = "A note") -> str | None:
    cleaned = (text or "").strip()
    if required and not cleaned:
        raise FormProblem(f"{what} is required")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise FormProblem(f"{what} must be at most {MAX_NOTE_CHARS} characters")
    return cleaned or None


def scores(values: dict[str, str]) -> Ons4:
    """ONS4 answers from fields named after the questions (`satisfied`, `worthwhile`, ...)."""
    numbers = []
    for name, question in ONS4_QUESTIONS:
        raw = (values.get(name) or "").strip()
        if not raw.isdigit():
            raise FormProblem(
                f"Answer every wellbeing question with a whole number 0-10 ({question})"
            )
        numbers.append(int(raw))
    try:
        return Ons4(*numbers)
    except InvalidScores as error:
        raise FormProblem(str(error)) from None


def services(text: str | None) -> tuple[str, ...]:
    """One service per line; blank lines and repeats dropped."""
    found: list[str] = []
    for line in (text or "").splitlines():
        service = line.strip()
        if service and service not in found:
            if len(service) > 200:
                raise FormProblem("Each service must be at most 200 characters")
            found.append(service)
    if len(found) > MAX_SERVICES:
        raise FormProblem(f"List at most {MAX_SERVICES} services")
    return tuple(found)


def summary(text: str | None) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) > MAX_SUMMARY_CHARS:
        raise FormProblem(f"The summary must be at most {MAX_SUMMARY_CHARS} characters")
    return cleaned
