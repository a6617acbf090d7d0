"""FHIR's answers to intake's FHIR writes, so a standard client's `create` and transaction end
holding what FHIR promises them.

- `POST /fhir/ServiceRequest` (create): 201 with `Location` and the ServiceRequest as the hub
  recorded it (200 for a resend of one already received); `Prefer: return=minimal` or
  `return=OperationOutcome` as FHIR defines them. A refusal is an OperationOutcome: 409 when
  it clashes with a referral the hub holds (a changed resend, another organisation's
  reference), 422 when the content breaks a rule.
- `POST /fhir` with a transaction Bundle: a `transaction-response` Bundle, one entry per
  entry sent, in order; the ServiceRequest's entry has its status, `location`, and the
  warnings as `outcome`. The Patient travels inside the ServiceRequest (contained), so its
  entry answers 200 with no location of its own. A refused transaction is one
  OperationOutcome (FHIR: a transaction fails whole).

Locations are absolute and point at the notifier, where the referral is read
(`INTAKE_NOTIFIER_URL`); intake keeps no read API of its own.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from hub_common.http.fhir import FhirResponse
from hub_intake.service_layer.outcomes import Outcome

STATUS_TEXT = {200: "200 OK", 201: "201 Created", 409: "409 Conflict", 422: "422 Unprocessable"}


def links(notifier_url: str, referral_id: str) -> tuple[str, str]:
    """Where the referral is read, and where its Task is followed (both at the notifier)."""
    base = notifier_url.rstrip("/")
    return (
        f"{base}/fhir/ServiceRequest/{referral_id}",
        f"{base}/fhir/Task?focus=ServiceRequest/{referral_id}",
    )


def refusal_status(outcomes: list[Outcome]) -> int:
    """409 when every referral clashed with what the hub holds, else 422 (see README)."""
    return 409 if outcomes and all(o.is_conflict for o in outcomes) else 422


def _answered(outcome: Outcome) -> int:
    return 201 if outcome.status == "accepted" else 200


def created(outcome: Outcome, notifier_url: str, prefer: str | None) -> Response:
    """The answer to a single create."""
    if outcome.status == "rejected" or not outcome.referral_id:
        return FhirResponse(outcome.outcome, status_code=refusal_status([outcome]))
    location, _ = links(notifier_url, outcome.referral_id)
    headers = {"Location": location}
    wanted = (prefer or "").replace(" ", "").lower()
    if "return=minimal" in wanted:
        return Response(status_code=_answered(outcome), headers=headers)
    body = outcome.outcome if "return=operationoutcome" in wanted else outcome.resource
    return FhirResponse(body or outcome.outcome, status_code=_answered(outcome), headers=headers)


def transaction_response(
    bundle: dict[str, Any], outcome: Outcome, notifier_url: str
) -> dict[str, Any]:
    """The transaction-response Bundle for an accepted (or resent) transaction."""
    assert outcome.referral_id is not None
    location, _ = links(notifier_url, outcome.referral_id)
    entries = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind == "ServiceRequest":
            response: dict[str, Any] = {
                "status": STATUS_TEXT[_answered(outcome)],
                "location": location,
                "outcome": outcome.outcome,
            }
            answered: dict[str, Any] = {"fullUrl": location, "response": response}
            if outcome.resource is not None:
                answered["resource"] = outcome.resource
            entries.append(answered)
        else:
            entries.append({"response": {"status": STATUS_TEXT[200]}})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
