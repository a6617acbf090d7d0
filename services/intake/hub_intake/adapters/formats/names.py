"""Splitting a full name written in one string, as fire services and landlords send them."""

from __future__ import annotations

# Honorifics seen on agency records; a trailing full stop (`Dr.`) is tolerated.
TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "master", "dr", "prof", "professor", "rev", "revd"}
    | {"reverend", "fr", "sir", "dame", "lady", "lord"}
)


# Words that begin a family name rather than end the given names: Welsh `ap`/`ab`, Dutch,
# German, Romance and Irish/Scottish particles. `Dafydd ap Gruffydd` is Dafydd of the family
# ap Gruffydd, never given names `Dafydd ap`. (O'Neill and MacDonald are one word already;
# these catch `O' Neill` and `Mac Donald` written apart.)
PARTICLES = frozenset(
    {"ap", "ab", "van", "von", "de", "da", "di", "le", "la", "du", "del", "della", "der"}
    | {"den", "ter", "ten", "o'", "mac", "mc", "st", "st."}
)


def _without_titles(words: list[str]) -> list[str]:
    while words and words[0].lower().rstrip(".") in TITLES:
        words = words[1:]
    return words


def split_full_name(full: str) -> tuple[tuple[str, ...], str] | None:
    """(given names, family name) from `Mrs Margaret O'Neill` or `Chen, Li`; None if no name.

    Without a comma the family name is the last word, or from the first particle on
    (`Dafydd ap Gruffydd`, `Ludwig van der Berg`); a double-barrelled name is one word
    (`Smith-Jones`). A title alone is not a name.
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
    start = next(
        (n for n, word in enumerate(words[:-1]) if n > 0 and word.lower() in PARTICLES),
        len(words) - 1,
    )
    return tuple(words[:start]), " ".join(words[start:])
