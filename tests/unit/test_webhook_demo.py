"""`referral-hub demo webhooks`: each delivery shown with its signature checked, as a receiver
must check it; a forged, altered or stale one is shown as such."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from hub_cli.webhook_demo import DemoReceiver, receiver_app, subscription_body
from hub_notifier.domain.signature import sign

SECRET = "demo-subscription-secret"


def notification(number: int, focus: str) -> bytes:
    """A history Bundle shaped like the notifier's (one event)."""
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "history",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Parameters",
                        "parameter": [
                            {"name": "type", "valueCode": "event-notification"},
                            {
                                "name": "notification-event",
                                "part": [
                                    {"name": "event-number", "valueString": str(number)},
                                    {"name": "focus", "valueReference": {"reference": focus}},
                                ],
                            },
                        ],
                    }
                }
            ],
        }
    ).encode()


@pytest.fixture
def receiver() -> DemoReceiver:
    return DemoReceiver(secret=SECRET, subscription_id="sub-1")


@pytest.fixture
async def client(receiver: DemoReceiver) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver_app(receiver))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as test_client:
        yield test_client


async def post(client: httpx.AsyncClient, body: bytes, secret: str, age: float = 0) -> None:
    stamp = int(time.time() - age)
    headers = {"X-Hub-Timestamp": str(stamp), "X-Hub-Signature": sign(secret, stamp, body)}
    assert (await client.post("/hook", content=body, headers=headers)).status_code == 200


async def test_each_delivery_is_listed_with_its_signature_checked(
    client: httpx.AsyncClient, receiver: DemoReceiver
) -> None:
    await post(client, notification(1, "Task/r-1"), SECRET)
    await post(client, notification(2, "Task/r-2"), "somebody-else")
    await post(client, notification(3, "Task/r-3"), SECRET, age=3600)
    page = (await client.get("/")).text
    assert "sub-1" in page
    rows = page.split("<tr>")[2:]  # newest first, after the header row
    assert "#3 Task/r-3" in rows[0] and "invalid: forged, altered or stale" in rows[0]
    assert "#2 Task/r-2" in rows[1] and "invalid: forged, altered or stale" in rows[1]
    assert "#1 Task/r-1" in rows[2] and "✔ valid" in rows[2]
    assert [receiver.check(d) for d in receiver.deliveries] == [
        "valid",
        "invalid: forged, altered or stale",
        "invalid: forged, altered or stale",
    ]


async def test_a_delivery_before_the_secret_is_known_is_checked_once_it_is(
    client: httpx.AsyncClient, receiver: DemoReceiver
) -> None:
    receiver.secret = None
    await post(client, notification(1, "Task/r-1"), SECRET)
    assert "not checked yet" in (await client.get("/")).text
    receiver.secret = SECRET
    assert "✔ valid" in (await client.get("/")).text


def test_the_demo_subscribes_to_its_own_referrals_by_webhook() -> None:
    body = subscription_body("http://127.0.0.1:8009/hook", "sys|cva")
    assert body["channel"]["type"] == "rest-hook"
    assert body["channel"]["endpoint"] == "http://127.0.0.1:8009/hook"
    assert body["_criteria"]["extension"][0]["valueString"] == "Task?requester=sys|cva"


async def test_the_standard_webhooks_signature_is_checked_too(
    client: httpx.AsyncClient,
) -> None:
    from hub_notifier.domain.signature import standard_signature

    body = notification(1, "Task/r-1")
    stamp = int(time.time())
    headers = {
        "X-Hub-Timestamp": str(stamp),
        "X-Hub-Signature": sign(SECRET, stamp, body),
        "webhook-id": "msg-1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_signature(SECRET, "msg-1", stamp, body),
    }
    await client.post("/hook", content=body, headers=headers)
    await client.post("/hook", content=body, headers={**headers, "webhook-id": "msg-2"})
    rows = (await client.get("/")).text.split("<tr>")[2:]
    assert "✔ valid; Standard Webhooks: invalid" in rows[0]  # the id is signed too
    assert "✔ valid; Standard Webhooks: valid" in rows[1]
