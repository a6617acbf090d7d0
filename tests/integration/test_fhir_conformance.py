"""What the hub emits and serves passes HAPI FHIR's validator (base R4 + schemas/fhir).

The resources come from the services' own mapping code (tests/support/fhir_corpus.py), so a
mapper that starts writing an empty array, an unpublished code system or a broken invariant
fails here. Warnings other than the hub's own unknown systems are allowed (narrative, codes of
external systems the validator cannot check, profiles of packages not loaded).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub_common.fhir.systems import HUB_BASE
from tests.support.fhir_corpus import corpus
from tests.support.fhir_validator import FhirValidator, ValidationIssue

# HAPI reports a valid BCP-47 code outside the 56 "common languages" as an error although the
# binding is only preferred (hapifhir/hapi-fhir issue 4152). The hub's link workers and
# residents speak Twi, Somali, Urdu...: those codes are right, the message is not.
KNOWN_VALIDATOR_DEFECTS = [
    re.compile(r'^Code "[a-z]{2,3}" is not in valueset: http://hl7\.org/fhir/ValueSet/languages$')
]


def problems(issues: list[ValidationIssue]) -> list[str]:
    """Errors, and warnings about the hub's own definitions (which schemas/fhir must hold)."""
    return [
        str(issue)
        for issue in issues
        if not any(known.match(issue.message) for known in KNOWN_VALIDATOR_DEFECTS)
        and (issue.is_error or (issue.severity == "warning" and HUB_BASE in issue.message))
    ]


@pytest.mark.parametrize("label", sorted(corpus()))
def test_every_emitted_and_served_resource_validates(
    fhir_validator: FhirValidator, label: str
) -> None:
    assert problems(fhir_validator.validate(corpus()[label])) == []


def test_the_hub_definitions_are_loaded(fhir_validator: FhirValidator) -> None:
    assert fhir_validator.definitions >= 4


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            {"resourceType": "PractitionerRole", "id": "x", "specialty": []},
            "Array cannot be empty",
        ),
        (
            {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "businessStatus": {
                    "coding": [{"system": f"{HUB_BASE}/CodeSystem/not-published", "code": "x"}]
                },
            },
            "not-published",
        ),
        (
            {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "businessStatus": {
                    "coding": [
                        {"system": f"{HUB_BASE}/CodeSystem/task-business-status", "code": "nope"}
                    ]
                },
            },
            "nope",
        ),
    ],
)
def test_the_validator_finds_what_it_should(
    fhir_validator: FhirValidator, resource: dict[str, Any], expected: str
) -> None:
    found = problems(fhir_validator.validate(resource))
    assert any(expected in problem for problem in found), found
