"""A refused referral as a form: each field of what the agency sent, the refused ones marked.

Nobody can correct raw JSON on a phone, so a refused JSON document (community, police, fire,
pharmacy, ...) is laid out as one labelled input per value, filled in from what was sent; the
fields intake named in its OperationOutcome `expression` carry the reason in words. A refused
field that was not sent at all (a missing `consent`) gets an empty input of its own. On submit
the form's values are written back into the document at the same paths, so everything the form
does not show (empty lists, nesting) goes back exactly as it came. A FHIR resource, a CSV file
or a body intake could not read is not a form: it is shown as text to edit instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

from hub_web.domain.refusals import FIELD_WORDS, PlainProblem, field_words, plain_problems
from hub_web.domain.tasks import RejectionIssue

Kind = Literal["text", "number", "yes-no", "long-text"]
YES_NO_NAMES = {"consent", "interpreter_required", "interpreter_needed", "safeguarding_concern"}
LONG_TEXT_AFTER = 80  # characters: a longer value gets a text area
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class FormField:
    """One input: where it lives in the document, its label, value and, if refused, why."""

    path: str
    label: str
    value: str
    kind: Kind
    problems: tuple[str, ...] = ()

    @property
    def input_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", self.path).strip("-")


@dataclass(frozen=True)
class CorrectionForm:
    """The form for one refused message, and the refusals that name no single field."""

    source: str
    fields: tuple[FormField, ...]
    general: tuple[PlainProblem, ...] = field(default_factory=tuple)


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [
            leaf
            for key, item in value.items()
            for leaf in _leaves(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, f"{path}[{i}]")]
    return [(path, value)]


def _lookup(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value) at `path`."""
    node = document
    for step in _steps(path):
        in_list = isinstance(step, int) and isinstance(node, list) and step < len(node)
        if not (in_list or (isinstance(step, str) and isinstance(node, dict) and step in node)):
            return False, None
        node = node[step]
    return True, node


def _addable(document: dict[str, Any], path: str) -> bool:
    """A refused field missing from the document whose parent is an object: it can be added."""
    steps = _steps(path)
    if not steps or any(isinstance(step, int) for step in steps) or _lookup(document, path)[0]:
        return False
    found, parent = _lookup(document, ".".join(str(step) for step in steps[:-1]))
    return found and isinstance(parent, dict)


def _kind(path: str, value: Any) -> Kind:
    name = str(_steps(path)[-1]) if _steps(path) else path
    if isinstance(value, bool) or (value is None and name.lower() in YES_NO_NAMES):
        return "yes-no"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and (len(value) > LONG_TEXT_AFTER or "\n" in value):
        return "long-text"
    return "text"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _label(path: str) -> str:
    """Unique enough to tell apart: `person.email` and `referrer.email` are both "E-mail
    address" in a refusal's sentence, but here "Person e-mail address" and "Referrer ..."."""
    words = field_words(path)
    steps = [step for step in _steps(path) if isinstance(step, str)]
    if len(steps) > 1 and steps[-1].lower() in FIELD_WORDS:
        parent = field_words(steps[-2])
        first = words.split()[0]
        words = f"{parent} {words if first.isupper() else words[:1].lower() + words[1:]}"
    indexes = re.findall(r"\[(\d+)\]", path)
    return f"{words} {int(indexes[-1]) + 1}" if indexes else words


def formable(original: Any) -> TypeGuard[dict[str, Any]]:
    """A JSON object that is not a FHIR resource (those have their own systems to correct)."""
    return (
        isinstance(original, dict) and "resourceType" not in original and "base64" not in original
    )


def as_text(original: Any) -> str:
    """The refused message as text to edit in the fallback box."""
    if isinstance(original, str):
        return original
    if original is None or (isinstance(original, dict) and set(original) == {"base64"}):
        return ""  # not text (or not kept): nothing sensible to show
    return json.dumps(original, indent=2, ensure_ascii=False)


def correction_form(
    source: str,
    document: dict[str, Any],
    issues: tuple[RejectionIssue, ...],
    entered: dict[str, str] | None = None,
) -> CorrectionForm:
    """The form for `document`, refused for `issues`; `entered` (path -> text) overrides what
    was sent, when the form is shown again after a refused resubmission."""
    reasons: dict[str, list[str]] = {}
    general: list[PlainProblem] = []
    leaves = dict(_leaves(document))
    for problem in plain_problems(issues):
        if problem.path in leaves or (problem.path and _addable(document, problem.path)):
            reasons.setdefault(problem.path, []).append(f"{problem.field} {problem.problem}.")
        else:
            general.append(problem)
    for path in reasons:
        leaves.setdefault(path, None)  # a refused field not sent: an empty input for it
    fields = sorted(
        (
            FormField(
                path=path,
                label=_label(path),
                value=(entered or {}).get(path, _shown(value)),
                kind=_kind(path, value),
                problems=tuple(reasons.get(path, ())),
            )
            for path, value in leaves.items()
        ),
        key=lambda item: not item.problems,  # the refused first: on a phone, no scrolling
    )
    return CorrectionForm(source, tuple(fields), tuple(general))


def _typed(text: str, kind: Kind, was: Any) -> Any:
    text = text.strip()
    if not text:
        return None
    if kind == "yes-no":
        return {"yes": True, "no": False}.get(text.lower(), text)
    if kind == "number":
        try:
            return int(text) if isinstance(was, int) else float(text)
        except ValueError:
            return text  # intake says what is wrong with it
    return text


def _put(document: Any, steps: list[str | int], value: Any) -> list[Any] | None:
    """Set the value at `steps`; returns the list it went into, if any."""
    node = document
    for step in steps[:-1]:
        node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
    last = steps[-1]
    if isinstance(last, str) and value is None:
        node.pop(last, None)  # emptied: not sent, so intake says "missing", not "invalid"
    else:
        node[last] = value
    return node if isinstance(last, int) else None


def corrected(form: CorrectionForm, document: dict[str, Any], entered: dict[str, str]) -> Any:
    """`document` with the form's fields set to what was entered (only the form's own paths:
    anything else posted is ignored)."""
    fixed = json.loads(json.dumps(document))
    lists = []
    for item in form.fields:
        if item.path not in entered:
            continue
        _, was = _lookup(document, item.path)
        into = _put(fixed, _steps(item.path), _typed(entered[item.path], item.kind, was))
        if into is not None:
            lists.append(into)
    for emptied in lists:  # a list item emptied is left out, not sent as null
        emptied[:] = [item for item in emptied if item is not None]
    return fixed
