"""The referrers who want to hear back: one rest-hook Subscription per agency in the load.

A notification goes to the subscriptions of the organisation that referred, so the harness
works out which organisations its messages come from the way intake does (the same format
readers and the same `system|value` rule) and subscribes each to the harness's webhook,
exactly as an agency would: `POST /fhir/Subscription` with its own token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx

from benchmarks.load import Inbound
from hub_common.security.auth import Principal, issue_token
from hub_intake.public import referring_agencies
from hub_notifier.public import FILTER_CRITERIA, TASK_TOPIC

PARALLEL = 8  # registrations in flight: enough to be quick, few enough not to swamp the notifier


def agencies_of(messages: Iterable[Inbound]) -> set[str]:
    """`system|value` of every organisation the messages refer for."""
    found: set[str] = set()
    for message in messages:
        found |= referring_agencies(message.source, message.body)
    return found


def rest_hook_subscription(organisation: str, endpoint: str) -> dict[str, object]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "benchmark: every change of our referrals",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [{"url": FILTER_CRITERIA, "valueString": f"Task?requester={organisation}"}]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
        },
    }


async def subscribe_all(
    notifier_url: str, auth_secret: str, organisations: Iterable[str], endpoint: str
) -> int:
    """Register a subscription for each organisation; returns how many were created."""
    gate = asyncio.Semaphore(PARALLEL)

    async def subscribe(client: httpx.AsyncClient, organisation: str) -> None:
        principal = Principal("agency", subject=organisation, organisation=organisation)
        token = issue_token(auth_secret, principal, ttl_seconds=24 * 3600)
        async with gate:
            answer = await client.post(
                "/fhir/Subscription",
                json=rest_hook_subscription(organisation, endpoint),
                headers={"Authorization": f"Bearer {token}"},
            )
        if answer.status_code != 201:
            raise RuntimeError(
                f"the notifier refused a benchmark subscription: HTTP {answer.status_code}"
            )

    wanted = sorted(organisations)
    async with httpx.AsyncClient(base_url=notifier_url, timeout=30.0) as client:
        await asyncio.gather(*(subscribe(client, organisation) for organisation in wanted))
    return len(wanted)
