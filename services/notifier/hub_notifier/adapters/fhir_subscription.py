"""The Subscription resource on the wire (R4 + Subscriptions Backport) <-> the use case."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hub_common.fhir.systems import HUB_BASE
from hub_common.storage.stored_text import NUL_MESSAGE, first_nul
from hub_notifier.domain.commands import CreateSubscription
from hub_notifier.domain.notification import BACKPORT, TASK_TOPIC
from hub_notifier.domain.subscription import Channel, RefusedSubscription

FILTER_CRITERIA = f"{BACKPORT}/StructureDefinition/backport-filter-criteria"
PAYLOAD_CONTENT = f"{BACKPORT}/StructureDefinition/backport-payload-content"
HEARTBEAT_PERIOD = f"{BACKPORT}/StructureDefinition/backport-heartbeat-period"
SECRET_EXTENSION = f"{HUB_BASE}/StructureDefinition/subscription-signing-secret"
MAX_HEADERS = 5
MAX_HEADER_LENGTH = 1000
MAX_HEARTBEAT_SECONDS = 86_400


def _extension_value(element: Any, url: str) -> Any:
    for ext in (element or {}).get("extension", []):
        if ext.get("url") == url:
            return next((v for k, v in ext.items() if k.startswith("value")), None)
    return None


def _endpoint(channel: dict[str, Any], allow_http: bool) -> str:
    endpoint = str(channel.get("endpoint") or "")
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise RefusedSubscription(
            "Subscription.channel.endpoint", f"an absolute {' or '.join(schemes)} URL is required"
        )
    if len(endpoint) > 2000:
        raise RefusedSubscription("Subscription.channel.endpoint", "longer than 2000 characters")
    return endpoint


def _headers(channel: dict[str, Any]) -> tuple[str, ...]:
    headers = channel.get("header") or []
    if not isinstance(headers, list) or len(headers) > MAX_HEADERS:
        raise RefusedSubscription(
            "Subscription.channel.header", f"a list of at most {MAX_HEADERS} headers"
        )
    for header in headers:
        name, colon, _ = str(header).partition(":")
        if (
            not colon
            or not name.strip()
            or len(str(header)) > MAX_HEADER_LENGTH
            or not all(" " <= c <= "~" or c == "\t" for c in str(header))
        ):
            # Printable ASCII only: a CR or LF would smuggle a header of its own, and the HTTP
            # client refuses anything else when the delivery is sent, long after this answer.
            raise RefusedSubscription(
                "Subscription.channel.header",
                "each header is one `Name: value` line of printable ASCII",
            )
    return tuple(str(h) for h in headers)


def _heartbeat(channel: dict[str, Any], rest_hook: bool, shortest: int) -> int | None:
    """The Backport's `heartbeatPeriod`, in seconds, within the bounds the hub serves."""
    period = _extension_value(channel, HEARTBEAT_PERIOD)
    if period is None:
        return None
    where = "Subscription.channel.extension(heartbeatPeriod)"
    if not rest_hook:
        raise RefusedSubscription(where, "heartbeats are sent to rest-hook endpoints only")
    if isinstance(period, bool) or not isinstance(period, int):
        raise RefusedSubscription(where, "an unsignedInt number of seconds")
    if not shortest <= period <= MAX_HEARTBEAT_SECONDS:
        raise RefusedSubscription(
            where, f"between {shortest} and {MAX_HEARTBEAT_SECONDS} seconds, not {period}"
        )
    return period


def read_subscription(
    resource: Any, organisation: str, *, allow_http: bool, shortest_heartbeat: int = 60
) -> CreateSubscription:
    """Raises RefusedSubscription naming the element at fault."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise RefusedSubscription("resourceType", "expected a Subscription")
    if where := first_nul(resource, "Subscription"):
        raise RefusedSubscription(where, NUL_MESSAGE)
    criteria = str(resource.get("criteria") or "")
    filter_criteria = _extension_value(resource.get("_criteria"), FILTER_CRITERIA)
    if criteria.startswith("Task"):
        # Plain R4 (no Backport topic): the criteria string is itself the filter.
        filter_criteria = filter_criteria or criteria
    elif criteria != TASK_TOPIC:
        raise RefusedSubscription("Subscription.criteria", f"the topic offered is {TASK_TOPIC}")
    channel = resource.get("channel") or {}
    kind = str(channel.get("type") or "")
    if kind not in {c.value for c in Channel}:
        raise RefusedSubscription(
            "Subscription.channel.type", "rest-hook, or message for the hub's Kafka topic"
        )
    content = _extension_value(channel.get("_payload"), PAYLOAD_CONTENT)
    if content not in (None, "id-only"):
        raise RefusedSubscription(
            "Subscription.channel.payload", "only id-only notifications are offered"
        )
    if channel.get("payload") not in (None, "application/fhir+json", "application/json"):
        raise RefusedSubscription("Subscription.channel.payload", "application/fhir+json")
    rest_hook = kind == Channel.REST_HOOK.value
    return CreateSubscription(
        organisation=organisation,
        channel=Channel(kind),
        endpoint=_endpoint(channel, allow_http) if rest_hook else None,
        headers=_headers(channel) if rest_hook else (),
        filter_criteria=str(filter_criteria) if filter_criteria else None,
        reason=str(resource.get("reason") or "referral status updates")[:500],
        heartbeat_seconds=_heartbeat(channel, rest_hook, shortest_heartbeat),
    )


def subscription_resource(row: Any, *, secret: str | None = None) -> dict[str, Any]:
    """The stored subscription as FHIR; the secret only when it is first handed out."""
    channel: dict[str, Any] = {
        "type": row.channel,
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
    }
    if row.endpoint:
        channel["endpoint"] = row.endpoint
    if row.heartbeat_seconds:
        channel["extension"] = [
            {"url": HEARTBEAT_PERIOD, "valueUnsignedInt": row.heartbeat_seconds}
        ]
    if row.headers:
        # Headers can hold the referrer's own credentials: say that they are set, not what.
        channel["header"] = [f"{str(h).partition(':')[0]}: ***" for h in row.headers]
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": row.subscription_id,
        "status": row.status,
        "reason": row.reason,
        "criteria": TASK_TOPIC,
        "_criteria": {"extension": [{"url": FILTER_CRITERIA, "valueString": row.filter_criteria}]},
        "channel": channel,
    }
    if secret is not None:
        resource["extension"] = [{"url": SECRET_EXTENSION, "valueString": secret}]
    return resource
