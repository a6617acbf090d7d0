"""Names people read instead of the hub's codes: languages, kinds of referral, organisations.

Language names come from the Unicode CLDR (through Babel) rather than a hand-kept table, so
every code an agency can send reads as a name ("tw" is "Twi").
"""

from __future__ import annotations

from functools import cache

from babel import Locale

from hub_common.agency_formats import agency_format
from hub_common.fhir.needs import NEED_DISPLAY, NeedCategory


@cache
def _english_languages() -> dict[str, str]:
    return dict(Locale("en").languages)


def language_name(code: str | None) -> str:
    """The English name of a BCP 47 language code (`tw` -> Twi); the code itself if unknown."""
    if not code:
        return "not given"
    names = _english_languages()
    base = code.replace("-", "_")
    return names.get(base) or names.get(base.split("_")[0]) or code


def source_label(source: str | None) -> str:
    """What kind of referral, as a person would call it ("GP referral")."""
    if not source:
        return "Referral"
    try:
        return agency_format(source).label  # the registry's name for it
    except ValueError:
        return f"{source.capitalize()} referral"


def need_name(code: str) -> str:
    """A need category as people name it (`loneliness-isolation` -> Loneliness or social
    isolation); an unknown code as given."""
    try:
        return NEED_DISPLAY[NeedCategory(code)]
    except ValueError:
        return code
