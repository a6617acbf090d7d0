"""The CapabilityStatement: what this FHIR facade answers, for a client to discover.

It must say what the routes do (clients build their queries from it): `requester` is
searched as an identifier `system|value`, so it is a token, and a Task's versions are read
at `_history`."""

from __future__ import annotations

from typing import Any

from hub_common.fhir.search import SEARCH_RESULT_PARAMETERS
from hub_notifier.domain.notification import BACKPORT


def capability_statement(base_url: str, version: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "referral-hub notifier", "version": version},
        "implementation": {
            "description": "Referral hub: referrers' read API and notifications",
            "url": f"{base_url.rstrip('/')}/fhir",
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "instantiates": [f"{BACKPORT}/CapabilityStatement/backport-subscription-server-r4"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Bearer tokens issued by the hub (`referral-hub credentials "
                    "issue`); an agency sees only its own organisation's referrals."
                },
                "resource": [
                    {
                        "type": "ServiceRequest",
                        "interaction": [{"code": "read"}],
                    },
                    {
                        "type": "Bundle",
                        "interaction": [{"code": "read"}],
                        "documentation": "The message back to the referring GP practice as a "
                        "document Bundle, `<referral id>-<accepted|declined|closed>`; for that "
                        "practice only.",
                    },
                    {
                        "type": "Task",
                        "interaction": [
                            {"code": "read"},
                            {"code": "history-instance"},
                            {"code": "search-type"},
                        ],
                        "versioning": "versioned",
                        "conditionalRead": "not-match",
                        "searchParam": [
                            {"name": "_id", "type": "token"},
                            {"name": "focus", "type": "reference"},
                            {
                                "name": "requester",
                                "type": "token",
                                "documentation": "the referring organisation's identifier, "
                                "system|value (also as requester:identifier)",
                            },
                            {"name": "status", "type": "token"},
                            {"name": "_lastUpdated", "type": "date"},
                            *SEARCH_RESULT_PARAMETERS,
                        ],
                    },
                    {
                        "type": "Subscription",
                        "interaction": [{"code": "create"}, {"code": "read"}],
                        "operation": [
                            {
                                "name": "status",
                                "definition": f"{BACKPORT}/OperationDefinition/backport-subscription-status",
                            }
                        ],
                    },
                ],
            }
        ],
    }
