"""The hub's need categories (its own FHIR CodeSystem, published under schemas/fhir/)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub_common.fhir.systems import SNOMED

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


@dataclass(frozen=True)
class SnomedConcept:
    """The SNOMED CT finding that names a need category, and where the concept was checked."""

    code: str
    display: str  # the concept's preferred term
    # How the hub category relates to the concept (FHIR R4 ConceptMap equivalence): `narrower`
    # when the concept covers only part of what the category means.
    equivalence: str
    source: str  # the public material the concept id and term were checked against


# Each concept below is an International Edition concept (no US extension: ids in namespace
# 1000124 are refused by the tests), its id and term read in the public file named beside it
# (HL7 Gravity SDOH Clinical Care and Physical Activity IGs are in github.com/HL7; Synthea is
# synthetichealth/synthea). A category
# with no International concept found in such a source stays unmapped rather than guessed:
# bereavement, mental wellbeing, healthy eating, digital inclusion, hoarding, safeguarding.
NEED_SNOMED: dict[NeedCategory, SnomedConcept] = {
    NeedCategory.LONELINESS_ISOLATION: SnomedConcept(
        "422650009",
        "Social isolation",
        "equivalent",
        "HL7 Gravity SDOH Clinical Care IG, input/fsh/instances/"
        "SDOHCC-ObservationAssessmentSocialIsolationExample.fsh",
    ),
    NeedCategory.HOUSING: SnomedConcept(
        "105531004",
        "Housing unsatisfactory",
        "narrower",
        "Synthea (MITRE), src/main/resources/modules/encounter/sdoh_hrsn.json",
    ),
    NeedCategory.MONEY_DEBT_BENEFITS: SnomedConcept(
        "160932005",
        "Financial problem",
        "equivalent",
        "ACT-NOW FHIR IG (davidhay25/actnow), input/fsh/terminology/"
        "regimen-discontinued-patient-factors.fsh",
    ),
    NeedCategory.EMPLOYMENT_EDUCATION: SnomedConcept(
        "73438004",
        "Unemployed",
        "narrower",
        "HL7 Gravity SDOH Clinical Care IG, input/fsh/instances/"
        "SDOHCC-ConditionUnemployedExample.fsh",
    ),
    NeedCategory.PHYSICAL_ACTIVITY: SnomedConcept(
        "40979000",
        "Lack of physical exercise",
        "equivalent",
        "HL7 Physical Activity IG, input/fsh/ExampleScenario1.fsh (ServiceRequest.reasonCode)",
    ),
    NeedCategory.FOOD_INSECURITY: SnomedConcept(
        "733423003",
        "Food insecurity",
        "equivalent",
        "HL7 Gravity SDOH Clinical Care IG, input/fsh/instances/"
        "SDOHCC-ConditionFoodInsecurityExample.fsh",
    ),
    NeedCategory.CARER_SUPPORT: SnomedConcept(
        "302767002",
        "Cares for a relative",
        "narrower",
        "ACT-NOW FHIR IG (davidhay25/actnow), input/fsh/terminology/"
        "regimen-discontinued-patient-factors.fsh",
    ),
}
# A GP's SNOMED CT reason code back to the hub category it names.
SNOMED_NEED: dict[str, NeedCategory] = {
    concept.code: category for category, concept in NEED_SNOMED.items()
}

CONCEPT_MAP_URL = "https://referral-hub.org/fhir/ConceptMap/need-category-to-snomed"
NEED_VALUE_SET_URL = "https://referral-hub.org/fhir/ValueSet/need-category"


def snomed_concept_map() -> dict[str, Any]:
    """NEED_SNOMED as a FHIR R4 ConceptMap: published under schemas/fhir/, generated from here."""
    elements: list[dict[str, Any]] = []
    for category in NeedCategory:
        element: dict[str, Any] = {"code": category.value, "display": NEED_DISPLAY[category]}
        concept = NEED_SNOMED.get(category)
        if concept is None:
            element["target"] = [
                {
                    "equivalence": "unmatched",
                    "comment": "No SNOMED CT International Edition concept confirmed from a"
                    " public source yet: left unmapped rather than guessed.",
                }
            ]
        else:
            element["target"] = [
                {
                    "code": concept.code,
                    "display": concept.display,
                    "equivalence": concept.equivalence,
                    "comment": f"Concept checked against: {concept.source}.",
                }
            ]
        elements.append(element)
    return {
        "resourceType": "ConceptMap",
        "id": "need-category-to-snomed",
        "url": CONCEPT_MAP_URL,
        "version": "1.0.0",
        "name": "NeedCategoryToSnomed",
        "title": "Referral hub need categories to SNOMED CT",
        "status": "active",
        "experimental": False,
        "publisher": "Referral hub",
        "description": "The SNOMED CT finding that names each need category, sent beside the"
        " hub's own code in ServiceRequest.reasonCode; a GP's reason coded with one of these"
        " concepts is read as that category.",
        "copyright": "This resource includes content from SNOMED CT, which is copyright"
        " International Health Terminology Standards Development Organisation (SNOMED"
        " International).",
        "sourceCanonical": NEED_VALUE_SET_URL,
        "targetUri": "http://snomed.info/sct?fhir_vs",
        "group": [{"source": NEED_CATEGORY_SYSTEM, "target": SNOMED, "element": elements}],
    }
