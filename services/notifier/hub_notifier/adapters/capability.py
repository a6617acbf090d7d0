"""The CapabilityStatement: what this FHIR facade answers, for a client to discover."""

from __future__ import annotations

from typing import Any

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
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": "focus", "type": "reference"},
                            {"name": "requester", "type": "reference"},
                            {"name": "status", "type": "token"},
                            {"name": "_lastUpdated", "type": "date"},
                            {"name": "_count", "type": "number"},
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
