"""Splitting a full name written in one string, as fire services and landlords send them."""

from __future__ import annotations

# Honorifics seen on agency records; a trailing full stop (`Dr.`) is tolerated.
TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "master", "dr", "prof", "professor", "rev", "revd"}
    | {"reverend", "fr", "sir", "dame", "lady", "lord"}
)


def _without_titles(words: list[str]) -> list[str]:
    while words and words[0].lower().rstrip(".") in TITLES:
        words = words[1:]
    return words


def split_full_name(full: str) -> tuple[tuple[str, ...], str] | None:
    """(given names, family name) from `Mrs Margaret O'Neill` or `Chen, Li`; None if no name.

    Without a comma the last word is the family name; a title alone is not a name.
    """
    if "," in full:
        family_part, _, given_part = full.partition(",")
        family = " ".join(_without_titles(family_part.split()))
        given = _without_titles(given_part.split())
        if family:
            return tuple(given), family
        full = given_part  # `, Li`: no family name before the comma; read what follows
    words = _without_titles(full.split())
    if not words:
        return None
    return tuple(words[:-1]), words[-1]
