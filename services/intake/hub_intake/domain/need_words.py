"""Agencies' words for needs, mapped to the hub's categories. Unknown words are kept as text."""

from __future__ import annotations

import re

from hub_common.fhir.needs import NeedCategory as N
from hub_intake.domain.referral import Need

_WORDS: dict[str, N] = {
    "loneliness": N.LONELINESS_ISOLATION,
    "lonely": N.LONELINESS_ISOLATION,
    "isolation": N.LONELINESS_ISOLATION,
    "isolated": N.LONELINESS_ISOLATION,
    "socially isolated": N.LONELINESS_ISOLATION,
    "social isolation": N.LONELINESS_ISOLATION,
    "lives alone": N.LONELINESS_ISOLATION,
    "loneliness isolation": N.LONELINESS_ISOLATION,
    "mental health": N.MENTAL_WELLBEING,
    "mental wellbeing": N.MENTAL_WELLBEING,
    "low mood": N.MENTAL_WELLBEING,
    "anxiety": N.MENTAL_WELLBEING,
    "depression": N.MENTAL_WELLBEING,
    "wellbeing": N.MENTAL_WELLBEING,
    "bereavement": N.BEREAVEMENT,
    "bereaved": N.BEREAVEMENT,
    "grief": N.BEREAVEMENT,
    "housing": N.HOUSING,
    "cold home": N.HOUSING,
    "tenancy": N.HOUSING,
    "money": N.MONEY_DEBT_BENEFITS,
    "debt": N.MONEY_DEBT_BENEFITS,
    "benefits": N.MONEY_DEBT_BENEFITS,
    "financial hardship": N.MONEY_DEBT_BENEFITS,
    "rent arrears": N.MONEY_DEBT_BENEFITS,
    "arrears": N.MONEY_DEBT_BENEFITS,
    "money debt": N.MONEY_DEBT_BENEFITS,
    "debts": N.MONEY_DEBT_BENEFITS,
    "benefit": N.MONEY_DEBT_BENEFITS,
    "fuel poverty": N.MONEY_DEBT_BENEFITS,
    "money debt benefits": N.MONEY_DEBT_BENEFITS,
    "employment": N.EMPLOYMENT_EDUCATION,
    "education": N.EMPLOYMENT_EDUCATION,
    "employment education": N.EMPLOYMENT_EDUCATION,
    "physical activity": N.PHYSICAL_ACTIVITY,
    "exercise": N.PHYSICAL_ACTIVITY,
    "healthy eating": N.HEALTHY_EATING,
    "food": N.FOOD_INSECURITY,
    "food insecurity": N.FOOD_INSECURITY,
    "food bank": N.FOOD_INSECURITY,
    "carer": N.CARER_SUPPORT,
    "carer support": N.CARER_SUPPORT,
    "carers": N.CARER_SUPPORT,
    "digital": N.DIGITAL_INCLUSION,
    "digital inclusion": N.DIGITAL_INCLUSION,
    "hoarding": N.HOARDING,
    "hoarder": N.HOARDING,
    "safeguarding": N.SAFEGUARDING_CONCERN,
    "safeguarding concern": N.SAFEGUARDING_CONCERN,
    "domestic abuse": N.SAFEGUARDING_CONCERN,
    "domestic violence": N.SAFEGUARDING_CONCERN,
    # Self-neglect is one of the Care Act 2014 categories of abuse and neglect.
    "self neglect": N.SAFEGUARDING_CONCERN,
}
# Every phrase that names a category, padded so a search matches whole words only.
_PHRASES: tuple[tuple[str, N], ...] = (
    *((f" {category.value.replace('-', ' ')} ", category) for category in N),
    *((f" {word} ", category) for word, category in _WORDS.items()),
)


def _normalise(word: str) -> str:
    return re.sub(r"[\s_\-/]+", " ", word.strip().lower())


def need_category(word: str) -> N | None:
    """The hub category for an agency's word, or None when it has no mapping."""
    key = _normalise(word)
    if key in {category.value.replace("-", " ") for category in N}:
        return N(key.replace(" ", "-"))
    return _WORDS.get(key)


def categories_in(text: str) -> list[N]:
    """Every category whose words appear in free text, in order of first mention."""
    padded = " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "
    found: dict[N, int] = {}
    for phrase, category in _PHRASES:
        at = padded.find(phrase)
        if at >= 0 and at < found.get(category, len(padded)):
            found[category] = at
    return sorted(found, key=found.__getitem__)


def needs_in(words: str) -> tuple[Need, ...]:
    """The needs an agency's words name, each keeping the words whole; unmapped words as text.

    A code or phrase (`social_isolation`) maps to its category; free text (`Cold home / fuel
    poverty`) to every category it mentions, so the router sees them all.
    """
    exact = need_category(words)
    if exact is not None:
        return (Need(exact, words),)
    return tuple(Need(category, words) for category in categories_in(words)) or (Need(None, words),)
