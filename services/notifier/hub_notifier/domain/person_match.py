"""Is this the same person? Linking referrals that different agencies sent about one person.

A GP practice sends the NHS number; the police, a housing association or a food bank usually
cannot. So the hub links on the NHS number when both referrals carry one, and otherwise on
normalised demographics with a similarity score. The string similarities come from RapidFuzz
(Jaro-Winkler for names, which forgives the typos people make in names; normalised
Levenshtein for phone numbers), never a hand-written distance.

The thresholds are a product decision, kept here and in `services/notifier/README.md`:

- **link** (automatically): the same NHS number; or a score of at least `AUTO_LINK_SCORE`
  with both names at least `AUTO_LINK_NAME` *as given* (not swapped) and the exact birth
  date. A wrong automatic link shows one person's other referrals to the wrong worker, so it
  needs the strongest evidence: twins share a birth date, a family name, an address and a
  phone, and differ only in the given name, which the name floor catches.
- **review** by a coordinator of the person's borough: a score of at least `REVIEW_SCORE`,
  or any automatic-looking pair that needed the given and family names swapped.
- **distinct**: below that, or two different NHS numbers (two NHS numbers are two people,
  whatever their demographics say).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from rapidfuzz.distance import JaroWinkler, Levenshtein

from hub_common.fhir.refs import contained
from hub_common.fhir.systems import NHS_NUMBER_SYSTEM

WEIGHTS = {"birthDate": 0.30, "family": 0.25, "given": 0.20, "postcode": 0.15, "phone": 0.10}
"""How much each field counts: the birth date changes least, a phone number most."""
AUTO_LINK_SCORE = 0.90
AUTO_LINK_NAME = 0.85
REVIEW_SCORE = 0.70

PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "des", "la", "le"}
    | {"ter", "ten", "al", "el", "bin", "ibn", "ben", "st", "mac", "mc"}
)
"""Family-name particles that one agency writes and another leaves out ("van der Berg",
"Berg", "Vanderberg" are one family name)."""


class Verdict(StrEnum):
    LINK = "link"
    REVIEW = "review"
    DISTINCT = "distinct"


@dataclass(frozen=True)
class Demographics:
    """What identifies a person, normalised: lower-case ASCII letters for names, no spaces in
    the postcode, digits only (UK national form) for the phone."""

    nhs_number: str | None = None
    birth_date: date | None = None
    family: str = ""
    given: tuple[str, ...] = ()
    postcode: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Match:
    """The verdict on a pair, its score (0-1) and each field's similarity, for the reviewer."""

    verdict: Verdict
    score: float
    basis: str  # nhs-number | demographics
    fields: dict[str, float]
    swapped_names: bool = False


def fold(text: str) -> str:
    """Lower-case ASCII letters and single spaces: accents, apostrophes and hyphens go."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z]+", " ", ascii_text.lower()).split())


def normalise_postcode(postcode: str) -> str:
    """Without spaces, in capitals: "sw18 4ab" and "SW184AB" are one postcode."""
    return postcode.replace(" ", "").upper()


def normalise_phone(phone: str) -> str:
    """Digits only, in UK national form (+44 7700 900123, +44 (0)7700 900123 and 07700900123
    are one number)."""
    digits = re.sub(r"\D", "", phone.replace("(0)", ""))  # "+44 (0)7700": the 0 is not dialled
    if digits.startswith("44") and len(digits) > 10:
        digits = "0" + digits[2:]
    return digits


def _full_date(value: Any) -> date | None:
    """A full birth date; FHIR also allows a year or a year and month, which match nothing."""
    try:
        return date.fromisoformat(str(value)) if value and len(str(value)) == 10 else None
    except ValueError:
        return None


def demographics_of(request: dict[str, Any]) -> Demographics:
    """The person of a hub ServiceRequest (its contained Patient), normalised."""
    patient = contained(request, request.get("subject", {}).get("reference"))
    name = (patient.get("name") or [{}])[0]
    nhs = next(
        (
            str(i["value"])
            for i in patient.get("identifier", [])
            if i.get("system") == NHS_NUMBER_SYSTEM and i.get("value")
        ),
        None,
    )
    born = patient.get("birthDate")
    postcode = next(
        (str(a["postalCode"]) for a in patient.get("address", []) if a.get("postalCode")), ""
    )
    phone = next(
        (
            str(t["value"])
            for t in patient.get("telecom", [])
            if t.get("system") == "phone" and t.get("value")
        ),
        "",
    )
    return Demographics(
        nhs_number=nhs,
        birth_date=_full_date(born),
        family=fold(str(name.get("family", ""))),
        given=tuple(g for g in (fold(str(given)) for given in name.get("given", [])) if g),
        postcode=normalise_postcode(postcode),
        phone=normalise_phone(phone),
    )


def _family_forms(family: str) -> set[str]:
    """The family name joined ("vanderberg") and without its particles ("berg")."""
    words = family.split()
    core = [word for word in words if word not in PARTICLES] or words
    return {"".join(words), "".join(core)}


def family_similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return max(
        JaroWinkler.normalized_similarity(x, y) for x in _family_forms(a) for y in _family_forms(b)
    )


def given_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """The first given names compared, or any given name of one with any of the other (a
    person known by their middle name)."""
    if not a or not b:
        return 0.0
    first = JaroWinkler.normalized_similarity(a[0], b[0])
    words_a = [w for name in a for w in name.split()]
    words_b = [w for name in b for w in name.split()]
    exact_other = 0.95 if set(words_a) & set(words_b) else 0.0
    return max(first, exact_other)


def birth_date_similarity(a: date, b: date) -> float:
    """Exact 1; day and month swapped (US order) .8; one digit mistyped .5; otherwise 0."""
    if a == b:
        return 1.0
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return 0.8
    if Levenshtein.distance(a.strftime("%Y%m%d"), b.strftime("%Y%m%d")) == 1:
        return 0.5
    return 0.0


def postcode_similarity(a: str, b: str) -> float:
    """Exact 1; same sector (all but the last two characters) .6; same district .3."""
    if a == b:
        return 1.0
    if len(a) > 3 and len(b) > 3:
        if a[:-2] == b[:-2]:
            return 0.6
        if a[:-3] == b[:-3]:
            return 0.3
    return 0.0


def phone_similarity(a: str, b: str) -> float:
    """Normalised Levenshtein: one digit wrong in eleven is still .91; far apart is 0."""
    similarity = Levenshtein.normalized_similarity(a, b)
    return similarity if similarity >= 0.8 else 0.0


def initials(person: Demographics) -> frozenset[str]:
    """The first letters of the family name and of the first given name."""
    return frozenset(name[0] for name in (person.family, *person.given[:1]) if name)


def may_match(a: Demographics, b: Demographics) -> bool:
    """Whether `compare` is worth asking (blocking): the candidates of a person are the
    referrals sharing the NHS number; or, unless both carry different NHS numbers (two people
    whatever else agrees), the postcode and the family name, or the birth date and one more
    thing: a name's initial (either name, either way round), the postcode or the phone.

    The birth date alone is shared by ever more people as history grows (35 a person at a
    million referrals, each scored under the linking lock), so it needs a second field; a
    pair that agrees on the birth date but on neither initial, postcode nor phone scores
    below the coordinator's threshold in all but freak cases (both names mistyped at their
    first letter). The notifier's SQL (adapters/person_links.py) finds exactly these."""
    if a.nhs_number and b.nhs_number:
        return a.nhs_number == b.nhs_number
    if a.postcode and a.family and (a.postcode, a.family) == (b.postcode, b.family):
        return True
    if not a.birth_date or a.birth_date != b.birth_date:
        return False
    return bool(
        initials(a) & initials(b)
        or (a.postcode and a.postcode == b.postcode)
        or (a.phone and a.phone == b.phone)
    )


def compare(a: Demographics, b: Demographics) -> Match:
    """The verdict on two referrals' people."""
    if a.nhs_number and b.nhs_number:
        same = a.nhs_number == b.nhs_number
        return Match(
            Verdict.LINK if same else Verdict.DISTINCT, 1.0 if same else 0.0, "nhs-number", {}
        )
    direct = (family_similarity(a.family, b.family), given_similarity(a.given, b.given))
    # One agency's "Ahmed Khan" is another's "Khan Ahmed": try the names the other way round.
    b_family_as_given = tuple(b.family.split())
    swapped = (
        max(
            family_similarity(a.family, " ".join(b.given)),
            family_similarity(a.family, b.given[0]) if b.given else 0.0,
        ),
        given_similarity(a.given, b_family_as_given),
    )
    is_swapped = sum(swapped) > sum(direct) + 0.1
    family, given = swapped if is_swapped else direct
    fields: dict[str, float] = {"family": round(family, 3), "given": round(given, 3)}
    if a.birth_date and b.birth_date:
        fields["birthDate"] = birth_date_similarity(a.birth_date, b.birth_date)
    if a.postcode and b.postcode:
        fields["postcode"] = postcode_similarity(a.postcode, b.postcode)
    if a.phone and b.phone:
        fields["phone"] = round(phone_similarity(a.phone, b.phone), 3)
    # Fields one side lacks neither help nor hurt: the score is over the fields both have.
    weight = sum(WEIGHTS[name] for name in fields)
    score = round(sum(WEIGHTS[name] * value for name, value in fields.items()) / weight, 3)
    has_anchor = "birthDate" in fields or "postcode" in fields
    verdict = Verdict.DISTINCT
    if has_anchor and score >= REVIEW_SCORE:
        verdict = Verdict.REVIEW
    if (
        score >= AUTO_LINK_SCORE
        and not is_swapped
        and family >= AUTO_LINK_NAME
        and given >= AUTO_LINK_NAME
        and fields.get("birthDate") == 1.0
    ):
        verdict = Verdict.LINK
    return Match(verdict, score, "demographics", fields, is_swapped)
