"""HTTP entrypoints of FHIR Subscriptions (R4 Backport): register, read, update (off and on,
heartbeat period), `$status`, `$rotate-secret`.

Agencies subscribe to their referrals' Tasks; community organisations (`organisation` role) to
the onward referrals sent to them, through the same machinery, under their directory
organisation's identifier (`hub_common.messaging.onward.organisation_key`), rest-hook only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from hub_common.fhir.outcome import Issue
from hub_common.jsonio import loads
from hub_common.messaging.onward import organisation_key
from hub_common.security.auth import Principal, require
from hub_notifier.adapters.endpoint_guard import PrivateEndpoint, check_public
from hub_notifier.adapters.fhir_subscription import read_subscription, subscription_resource
from hub_notifier.domain.commands import CreateSubscription
from hub_notifier.domain.notification import status_bundle
from hub_notifier.domain.subscription import Channel, RefusedSubscription
from hub_notifier.entrypoints.fhir_http import (
    FhirResponse,
    not_found,
    outcome_response,
)
from hub_notifier.service_layer.subscribing import SubscriptionService

CREATE_RESPONSES: dict[int | str, dict[str, str]] = {
    201: {"description": "Created; the signing secret is in the extension, shown only now"},
    400: {"description": "Not a Subscription the hub can accept (OperationOutcome)"},
    401: {"description": "No valid credentials"},
    403: {
        "description": "Not an agency or organisation, or a filter reaching beyond its own Tasks"
    },
}
READ_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid credentials"},
    404: {"description": "Unknown, or another organisation's: the same answer"},
}


UPDATE_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "Updated: off, back on, or a new heartbeat period"},
    400: {"description": "A change the hub cannot make to a subscription (OperationOutcome)"},
    **READ_RESPONSES,
}
ROTATE_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "The new signing secret is in the extension, shown only now"},
    **READ_RESPONSES,
}


SubscriberDep = Annotated[Principal, Depends(require("agency", "organisation"))]


def subscriber_key(principal: Principal) -> str:
    """Whose Tasks a subscription follows: an agency's identifier, or an organisation's."""
    assert principal.organisation  # both roles' tokens always name one (hub_common.security.auth)
    if principal.role == "organisation":
        return organisation_key(principal.organisation)
    return principal.organisation


def refusal(refused: RefusedSubscription) -> FhirResponse:
    """A subscription the hub cannot accept or change: 403 when it reaches beyond the
    subscriber's own Tasks, else 400, naming the element."""
    code = 403 if refused.forbidden else 400
    kind = "forbidden" if refused.forbidden else "invalid"
    return outcome_response(code, Issue(refused.field, str(refused), code=kind))


def subscription_router(
    service: SubscriptionService, *, allow_http: bool, shortest_heartbeat: int = 60
) -> APIRouter:
    router = APIRouter(prefix="/fhir/Subscription", tags=["subscriptions"])

    def read(resource: Any, agency: Principal) -> CreateSubscription:
        """Raises RefusedSubscription naming the element at fault."""
        command = read_subscription(
            resource,
            subscriber_key(agency),
            allow_http=allow_http,
            shortest_heartbeat=shortest_heartbeat,
        )
        if agency.role == "organisation" and command.channel is not Channel.REST_HOOK:
            raise RefusedSubscription(
                "Subscription.channel.type", "an organisation subscribes with rest-hook"
            )
        return command

    @router.post("", status_code=201, response_class=FhirResponse, responses=CREATE_RESPONSES)
    async def create_subscription(request: Request, agency: SubscriberDep) -> FhirResponse:
        """Subscribe to changes of your organisation's Tasks (rest-hook or Kafka, id-only); a
        community organisation, to its onward referrals (rest-hook)."""
        try:
            command = read(loads(await request.body()), agency)
            if command.endpoint and not allow_http:  # development allows loopback receivers
                await check_public(command.endpoint)
            created = await service.create(command)
        except PrivateEndpoint as refused:
            return outcome_response(
                400, Issue("Subscription.channel.endpoint", str(refused), code="invalid")
            )
        except RefusedSubscription as refused:
            return refusal(refused)
        except ValueError:
            return outcome_response(400, Issue("(body)", "not JSON", code="structure"))
        resource = subscription_resource(created.row, secret=created.secret)
        return FhirResponse(
            resource,
            status_code=201,
            headers={"Location": service.url(created.row.subscription_id)},
        )

    @router.get("/{subscription_id}", response_class=FhirResponse, responses=READ_RESPONSES)
    async def get_subscription(subscription_id: str, agency: SubscriberDep) -> FhirResponse:
        """One of your subscriptions (without its secret)."""
        row = await service.find(subscription_id, subscriber_key(agency))
        return FhirResponse(subscription_resource(row)) if row else not_found("Subscription")

    @router.put("/{subscription_id}", response_class=FhirResponse, responses=UPDATE_RESPONSES)
    async def update_subscription(
        subscription_id: str, request: Request, agency: SubscriberDep
    ) -> FhirResponse:
        """Turn your subscription off (`status: off`) or back on (`active` or `requested`),
        or change its heartbeat period; nothing else can change. While off nothing is
        numbered or sent; turned on, the deliveries held back go in their order."""
        try:
            body = loads(await request.body())
            command = read(body, agency)
            if isinstance(body, dict) and body.get("id") not in (None, subscription_id):
                raise RefusedSubscription("Subscription.id", "must match the id in the URL")
            row = await service.update(subscription_id, command, str(body.get("status") or ""))
        except RefusedSubscription as refused:
            return refusal(refused)
        except ValueError:
            return outcome_response(400, Issue("(body)", "not JSON", code="structure"))
        return FhirResponse(subscription_resource(row)) if row else not_found("Subscription")

    @router.post(
        "/{subscription_id}/$rotate-secret",
        response_class=FhirResponse,
        responses=ROTATE_RESPONSES,
    )
    async def rotate_secret(subscription_id: str, agency: SubscriberDep) -> FhirResponse:
        """A new signing secret, shown only in this answer. The old one keeps signing beside
        it (a second `v1,` value in `webhook-signature`) for the grace period, so your
        receiver can switch without refusing a delivery."""
        rotated = await service.rotate_secret(subscription_id, subscriber_key(agency))
        if rotated is None:
            return not_found("Subscription")
        return FhirResponse(subscription_resource(rotated.row, secret=rotated.secret))

    @router.get("/{subscription_id}/$status", response_class=FhirResponse, responses=READ_RESPONSES)
    async def subscription_status(subscription_id: str, agency: SubscriberDep) -> FhirResponse:
        """Status, events so far, and any delivery being retried or dead-lettered."""
        report = await service.status_report(subscription_id, subscriber_key(agency))
        if report is None:
            return not_found("Subscription")
        return FhirResponse(status_bundle(report, timestamp=datetime.now(UTC)))

    return router
