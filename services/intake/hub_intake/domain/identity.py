"""Recognising the same person across agencies without storing a searchable identity."""

from __future__ import annotations

import hashlib
import re

from hub_intake.domain.referral import Person


def person_key(person: Person) -> str:
    """A one-way key: the NHS number when known, else normalised name + birth date + postcode."""
    if person.nhs_number:
        basis = f"nhs:{person.nhs_number}"
    else:
        name = re.sub(r"[^a-z]", "", ("".join(person.given_names[:1]) + person.family_name).lower())
        born = person.birth_date.isoformat() if person.birth_date else "?"
        basis = f"person:{name}:{born}:{person.address.postcode.replace(' ', '')}"
    return hashlib.sha256(basis.encode()).hexdigest()
