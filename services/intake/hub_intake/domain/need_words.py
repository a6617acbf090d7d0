"""Agencies' words for needs, mapped to the hub's categories. Unknown words are kept as text."""

from __future__ import annotations

import re

from hub_common.needs import NeedCategory as N

_WORDS: dict[str, N] = {
    "loneliness": N.LONELINESS_ISOLATION,
    "lonely": N.LONELINESS_ISOLATION,
    "isolation": N.LONELINESS_ISOLATION,
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
    "digital": N.DIGITAL_INCLUSION,
    "digital inclusion": N.DIGITAL_INCLUSION,
    "hoarding": N.HOARDING,
    "safeguarding": N.SAFEGUARDING_CONCERN,
    "safeguarding concern": N.SAFEGUARDING_CONCERN,
    "domestic abuse": N.SAFEGUARDING_CONCERN,
}


def _normalise(word: str) -> str:
    return re.sub(r"[\s_\-/]+", " ", word.strip().lower())


def need_category(word: str) -> N | None:
    """The hub category for an agency's word, or None when it has no mapping."""
    key = _normalise(word)
    if key in {category.value.replace("-", " ") for category in N}:
        return N(key.replace(" ", "-"))
    return _WORDS.get(key)
