"""The hub's need categories (its own FHIR CodeSystem, published under schemas/fhir/)."""

from __future__ import annotations

from enum import StrEnum

NEED_CATEGORY_SYSTEM = "https://referral-hub.org/fhir/CodeSystem/need-category"


class NeedCategory(StrEnum):
    """A kind of non-medical need a link worker can help with."""

    LONELINESS_ISOLATION = "loneliness-isolation"
    MENTAL_WELLBEING = "mental-wellbeing"
    BEREAVEMENT = "bereavement"
    HOUSING = "housing"
    MONEY_DEBT_BENEFITS = "money-debt-benefits"
    EMPLOYMENT_EDUCATION = "employment-education"
    PHYSICAL_ACTIVITY = "physical-activity"
    HEALTHY_EATING = "healthy-eating"
    FOOD_INSECURITY = "food-insecurity"
    CARER_SUPPORT = "carer-support"
    DIGITAL_INCLUSION = "digital-inclusion"
    HOARDING = "hoarding"
    SAFEGUARDING_CONCERN = "safeguarding-concern"


NEED_DISPLAY: dict[NeedCategory, str] = {
    NeedCategory.LONELINESS_ISOLATION: "Loneliness or social isolation",
    NeedCategory.MENTAL_WELLBEING: "Mental wellbeing",
    NeedCategory.BEREAVEMENT: "Bereavement",
    NeedCategory.HOUSING: "Housing",
    NeedCategory.MONEY_DEBT_BENEFITS: "Money, debt or benefits",
    NeedCategory.EMPLOYMENT_EDUCATION: "Employment or education",
    NeedCategory.PHYSICAL_ACTIVITY: "Physical activity",
    NeedCategory.HEALTHY_EATING: "Healthy eating",
    NeedCategory.FOOD_INSECURITY: "Food insecurity",
    NeedCategory.CARER_SUPPORT: "Carer support",
    NeedCategory.DIGITAL_INCLUSION: "Digital inclusion",
    NeedCategory.HOARDING: "Hoarding",
    NeedCategory.SAFEGUARDING_CONCERN: "Safeguarding concern",
}
