"""Why intake refused a referral, in words a referrer understands.

The refusal keeps only each issue's code and the path of the field at fault (never the value,
which may be personal data), so this turns the two into a sentence: `required` on
`patient.nhs_number` reads "NHS number is missing". The path is still shown, small, for
whoever fixes the sending system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub_web.domain.tasks import RejectionIssue

CODE_WORDS = {
    "required": "is missing",
    "value": "has a value the hub cannot accept",
    "invalid": "is not valid",
    "structure": "is not laid out as the hub expects",
    "code-invalid": "uses a code the hub does not know",
    "not-supported": "is not something the hub takes",
    "too-long": "is too long",
    "too-costly": "is too large",
    "business-rule": "breaks one of the hub's rules",
    "consent": "does not record the person's consent",
    "forbidden": "is not something your organisation may send",
    "security": "is not something your organisation may send",
    "duplicate": "was already used by another organisation",
    "not-found": "names something the hub does not know",
    "conflict": "conflicts with a referral the hub already has",
}
FIELD_WORDS = {
    "nhs_number": "NHS number",
    "nhsnumber": "NHS number",
    "birthdate": "Date of birth",
    "birth_date": "Date of birth",
    "date_of_birth": "Date of birth",
    "dob": "Date of birth",
    "postcode": "Postcode",
    "postalcode": "Postcode",
    "consent": "Consent",
    "form_id": "Your reference",
    "(reference)": "Your reference",
    "email": "E-mail address",
    "phone": "Phone number",
    "telecom": "Phone or e-mail",
    "schema": "Format version",
}
WHOLE_MESSAGE = {"", "(message)", "(body)", "message"}


@dataclass(frozen=True)
class PlainProblem:
    """One problem as a sentence: what (the field, in words), what is wrong, and where."""

    field: str
    problem: str
    path: str  # as the sending system names it; empty for the message as a whole


def field_words(path: str) -> str:
    """A field's path as words: `occupant.name` -> "Occupant name", `Patient.birthDate` ->
    "Date of birth", `(message)` -> "The referral as a whole"."""
    path = path.strip()
    if path in WHOLE_MESSAGE:
        return "The referral as a whole"
    parts = [re.sub(r"\[\d+\]", "", part) for part in path.split(".") if part]
    last = parts[-1] if parts else path
    if last.lower() in FIELD_WORDS:
        return FIELD_WORDS[last.lower()]
    # The last two parts name it best (`occupant.name`); types in capitals (`Patient.`) do not.
    named = [p for p in parts[-2:] if not p[:1].isupper() or len(parts) == 1] or parts[-1:]
    words = " ".join(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", p).replace("_", " ") for p in named)
    words = words.replace("-", " ").strip().lower()
    return words[:1].upper() + words[1:] if words else "The referral as a whole"


def plain_problems(issues: tuple[RejectionIssue, ...]) -> list[PlainProblem]:
    """Each issue as a sentence; an issue naming several fields becomes one per field."""
    found = []
    for issue in issues:
        problem = CODE_WORDS.get(issue.code, "was refused")
        paths = [p.strip() for p in issue.fields.split(",") if p.strip()] or [""]
        for path in paths:
            found.append(
                PlainProblem(field_words(path), problem, "" if path in WHOLE_MESSAGE else path)
            )
    return found
