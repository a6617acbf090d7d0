"""Identifier systems and codes the hub writes into FHIR resources (see schemas/fhir/README.md)."""

from __future__ import annotations

HUB_BASE = "https://referral-hub.org/fhir"

REFERRAL_ID_SYSTEM = f"{HUB_BASE}/Id/referral"
AGENCY_ID_SYSTEM = f"{HUB_BASE}/Id/agency"
LINK_WORKER_ID_SYSTEM = f"{HUB_BASE}/Id/link-worker"
EPISODE_EXTENSION_URL = f"{HUB_BASE}/StructureDefinition/episode-id"
RISK_EXTENSION_URL = f"{HUB_BASE}/StructureDefinition/risk-to-visitors"


def referrer_reference_system(source: str) -> str:
    """The identifier system of a referrer's own reference, one per inbound source."""
    return f"{HUB_BASE}/Id/referrer-ref/{source}"


NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED = "http://snomed.info/sct"
SNOMED_SOCIAL_PRESCRIBING_REFERRAL = "871731000000106"
SNOMED_SOCIAL_PRESCRIBING_DECLINED = "871711000000103"

FHIR_JSON = "application/fhir+json; fhirVersion=4.0"
PLAIN_JSON = "application/json"
