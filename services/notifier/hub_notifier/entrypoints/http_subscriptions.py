"""HTTP entrypoints of FHIR Subscriptions (R4 Backport): register, read, `$status`."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from hub_common.jsonio import loads
from hub_common.outcome import Issue
from hub_notifier.adapters.endpoint_guard import PrivateEndpoint, check_public
from hub_notifier.adapters.fhir_subscription import read_subscription, subscription_resource
from hub_notifier.domain.notification import status_bundle
from hub_notifier.domain.subscription import RefusedSubscription
from hub_notifier.entrypoints.fhir_http import (
    AgencyDep,
    FhirResponse,
    not_found,
    outcome_response,
)
from hub_notifier.service_layer.subscribing import SubscriptionService

CREATE_RESPONSES: dict[int | str, dict[str, str]] = {
    201: {"description": "Created; the signing secret is in the extension, shown only now"},
    400: {"description": "Not a Subscription the hub can accept (OperationOutcome)"},
    401: {"description": "No valid credentials"},
    403: {"description": "Not an agency, or a filter reaching beyond its own Tasks"},
}
READ_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid credentials"},
    404: {"description": "Unknown, or another organisation's: the same answer"},
}


def subscription_router(service: SubscriptionService, *, allow_http: bool) -> APIRouter:
    router = APIRouter(prefix="/fhir/Subscription", tags=["subscriptions"])

    @router.post("", status_code=201, response_class=FhirResponse, responses=CREATE_RESPONSES)
    async def create_subscription(request: Request, agency: AgencyDep) -> FhirResponse:
        """Subscribe to changes of your organisation's Tasks (rest-hook or Kafka, id-only)."""
        assert agency.organisation  # an agency token always names one (hub_common.auth)
        try:
            command = read_subscription(
                loads(await request.body()), agency.organisation, allow_http=allow_http
            )
            if command.endpoint and not allow_http:  # development allows loopback receivers
                await check_public(command.endpoint)
            created = await service.create(command)
        except PrivateEndpoint as refused:
            return outcome_response(
                400, Issue("Subscription.channel.endpoint", str(refused), code="invalid")
            )
        except RefusedSubscription as refused:
            code = 403 if refused.forbidden else 400
            kind = "forbidden" if refused.forbidden else "invalid"
            return outcome_response(code, Issue(refused.field, str(refused), code=kind))
        except ValueError:
            return outcome_response(400, Issue("(body)", "not JSON", code="structure"))
        resource = subscription_resource(created.row, secret=created.secret)
        return FhirResponse(
            resource,
            status_code=201,
            headers={"Location": service.url(created.row.subscription_id)},
        )

    @router.get("/{subscription_id}", response_class=FhirResponse, responses=READ_RESPONSES)
    async def get_subscription(subscription_id: str, agency: AgencyDep) -> FhirResponse:
        """One of your subscriptions (without its secret)."""
        assert agency.organisation
        row = await service.find(subscription_id, agency.organisation)
        return FhirResponse(subscription_resource(row)) if row else not_found("Subscription")

    @router.get("/{subscription_id}/$status", response_class=FhirResponse, responses=READ_RESPONSES)
    async def subscription_status(subscription_id: str, agency: AgencyDep) -> FhirResponse:
        """Status, events so far, and any delivery being retried or dead-lettered."""
        assert agency.organisation
        report = await service.status_report(subscription_id, agency.organisation)
        if report is None:
            return not_found("Subscription")
        return FhirResponse(status_bundle(report, timestamp=datetime.now(UTC)))

    return router
