"""The router's CapabilityStatement: the FHIR it answers, for a client to discover: the
community services directory, Task read and search (versioned, `If-None-Match`, the hub's
paging and result parameters) and the CarePlan with its `_history`. The Task operations are
the hub's own, documented in the router's README and OpenAPI."""

from __future__ import annotations

from typing import Any

from hub_common.fhir.search import SEARCH_RESULT_PARAMETERS
from hub_common.fhir.systems import HUB_BASE

CAPACITY_OPERATION = f"{HUB_BASE}/OperationDefinition/HealthcareService-capacity"


def capability_statement(base_url: str, version: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-03",
        "kind": "instance",
        "software": {"name": "referral-hub router", "version": version},
        "implementation": {
            "description": "Referral hub: the community services directory for link workers",
            "url": f"{base_url.rstrip('/')}/fhir",
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Bearer tokens issued by the hub (`referral-hub credentials "
                    "issue`): link workers, coordinators and organisations read the "
                    "directory; an organisation sets the capacity of its own services only."
                },
                "resource": [
                    {
                        "type": "HealthcareService",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": "referral", "type": "token",
                             "documentation": "A referral you may see: distance from the "
                             "person's postcode district"},
                            {"name": "category", "type": "token",
                             "documentation": "Hub need category code (any of them)"},
                            {"name": "type", "type": "token",
                             "documentation": "Taxonomy term, system|code or code"},
                            {"name": "_text", "type": "string",
                             "documentation": "Words in the name, organisation or description "
                             "(PostgreSQL full-text search, English)"},
                            {"name": "near", "type": "string",
                             "documentation": "A postcode district to measure distance from"},
                            {"name": "distance", "type": "number",
                             "documentation": "Only services with a location within this many km"},
                            {"name": "open-on", "type": "token",
                             "documentation": "Days (mon … sun): open on any of them"},
                            {"name": "free", "type": "token", "documentation": "true or false"},
                            {"name": "age", "type": "number",
                             "documentation": "The person's age: within the eligible range"},
                            {"name": "capacity", "type": "token",
                             "documentation": "available, full, waiting-list, unknown"},
                            {"name": "_count", "type": "number"},
                        ],
                        "operation": [{"name": "capacity", "definition": CAPACITY_OPERATION}],
                    },
                    {
                        "type": "Task",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "versioning": "versioned",
                        "conditionalRead": "not-match",
                        "searchParam": [
                            {"name": "_id", "type": "token"},
                            {"name": "owner", "type": "reference",
                             "documentation": "PractitionerRole/<worker id>"},
                            {"name": "status", "type": "token"},
                            {"name": "business-status", "type": "token"},
                            {"name": "part-of", "type": "reference",
                             "documentation": "Task/<referral id>: its onward Tasks"},
                            *SEARCH_RESULT_PARAMETERS,
                        ],
                    },
                    {
                        "type": "CarePlan",
                        "interaction": [{"code": "read"}, {"code": "history-instance"}],
                        "versioning": "versioned",
                    },
                ],
            }
        ],
    }  # fmt: skip
