"""A subscription's life after creation, on the real broker and database: its signing secret
rotated with both secrets signing during the grace period, turned off and on without a lost or
repeated event, and heartbeats when it has been quiet (R4 Subscriptions Backport)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.jsonio import loads
from hub_common.security.auth import Principal, issue_token
from hub_notifier.domain.notification import BACKPORT
from hub_notifier.domain.signature import verify, verify_standard
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure
from tests.support.kafka_io import publish_events
from tests.support.notifier_setup import (
    STEPS,
    eventually,
    notifier_process,
    organisation,
    own_stack,
    service_request,
    task_versions,
)
from tests.support.stack import IsolatedStack
from tests.support.webhook_receiver import Received, WebhookReceiver

pytestmark = pytest.mark.infra

SECRET_EXTENSION = "https://referral-hub.org/fhir/StructureDefinition/subscription-signing-secret"
HEARTBEAT_PERIOD = f"{BACKPORT}/StructureDefinition/backport-heartbeat-period"
GRACE_SECONDS = 4.0


def key(org: dict[str, str]) -> str:
    return f"{org['system']}|{org['value']}"


def agency(stack: IsolatedStack, org: dict[str, str]) -> dict[str, str]:
    principal = Principal("agency", subject=org["value"], organisation=key(org))
    return bearer(issue_token(stack.auth_secret, principal))


def subscription(
    org: dict[str, str], channel: dict[str, Any], *, status: str = "requested"
) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": status,
        "reason": "tell us every change",
        "criteria": f"Task?requester={key(org)}",
        "channel": {"payload": "application/fhir+json", **channel},
    }


def kind(received: Received) -> str:
    status = loads(received.body)["entry"][0]["resource"]
    return next(p["valueCode"] for p in status["parameter"] if p["name"] == "type")


def numbers(received: list[Received]) -> list[int]:
    """Event numbers carried by event notifications, in the order they arrived."""
    found = []
    for r in received:
        for parameter in loads(r.body)["entry"][0]["resource"]["parameter"]:
            if parameter["name"] == "notification-event":
                part = {p["name"]: p for p in parameter["part"]}
                found.append(int(part["event-number"]["valueString"]))
    return found


def events_in(receiver: WebhookReceiver) -> list[Received]:
    return [r for r in receiver.accepted if kind(r) == "event-notification"]


@pytest.fixture(scope="module")
async def hub(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """A notifier with a short rotation grace period and heartbeats allowed every second."""
    stack, drop = await own_stack(infra)
    process = notifier_process(
        stack,
        tmp_path_factory.mktemp("subscription-lifecycle"),
        {
            "NOTIFIER_SECRET_ROTATION_GRACE_HOURS": str(GRACE_SECONDS / 3600),
            "NOTIFIER_SHORTEST_HEARTBEAT_SECONDS": "1",
            "NOTIFIER_HEARTBEAT_CHECK_SECONDS": "0.2",
        },
    )
    process.start()
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=10.0) as client:
            yield {"stack": stack, "client": client}
    finally:
        process.stop()
        await drop()


async def subscribe(
    hub: dict[str, Any], org: dict[str, str], channel: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    answer = await hub["client"].post(
        "/fhir/Subscription", json=subscription(org, channel), headers=agency(hub["stack"], org)
    )
    assert answer.status_code == 201, answer.text
    resource = answer.json()
    secret = next(e["valueString"] for e in resource["extension"] if e["url"] == SECRET_EXTENSION)
    return resource, secret


async def put(
    hub: dict[str, Any], org: dict[str, str], resource: dict[str, Any], **changes: Any
) -> httpx.Response:
    return await hub["client"].put(
        f"/fhir/Subscription/{resource['id']}",
        json={**resource, **changes},
        headers=agency(hub["stack"], org),
    )


async def publish_steps(hub: dict[str, Any], org: dict[str, str], count: int) -> str:
    stack: IsolatedStack = hub["stack"]
    referral_id = str(uuid.uuid4())
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.requested,
        [(referral_id, service_request(referral_id, org), "ReferralRequested")],
    )
    tasks = task_versions(referral_id, org, STEPS["completed"][:count])
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        [(referral_id, task, "TaskChanged") for task in tasks],
    )
    return referral_id


async def events_counted(hub: dict[str, Any], org: dict[str, str], subscription_id: str) -> int:
    answer = await hub["client"].get(
        f"/fhir/Subscription/{subscription_id}/$status", headers=agency(hub["stack"], org)
    )
    assert answer.status_code == 200, answer.text
    params = answer.json()["entry"][0]["resource"]["parameter"]
    return int(
        next(p["valueString"] for p in params if p["name"] == "events-since-subscription-start")
    )


async def test_a_rotated_secret_signs_beside_the_old_one_until_the_grace_period_ends(
    hub: dict[str, Any],
) -> None:
    org = organisation(AGENCY_ID_SYSTEM, f"community:rotation-{uuid.uuid4().hex[:6]}")
    receiver = WebhookReceiver().start()
    try:
        resource, old = await subscribe(hub, org, {"type": "rest-hook", "endpoint": receiver.url()})
        await eventually(lambda: receiver.accepted, what="the handshake")

        other = organisation(AGENCY_ID_SYSTEM, "community:someone-else")
        refused = await hub["client"].post(
            f"/fhir/Subscription/{resource['id']}/$rotate-secret",
            headers=agency(hub["stack"], other),
        )
        assert refused.status_code == 404  # another organisation's: no such subscription

        rotated = await hub["client"].post(
            f"/fhir/Subscription/{resource['id']}/$rotate-secret", headers=agency(hub["stack"], org)
        )
        assert rotated.status_code == 200, rotated.text
        new = next(
            e["valueString"] for e in rotated.json()["extension"] if e["url"] == SECRET_EXTENSION
        )
        assert new != old
        read = await hub["client"].get(
            f"/fhir/Subscription/{resource['id']}", headers=agency(hub["stack"], org)
        )
        assert new not in read.text and old not in read.text  # shown once, never again
        rotated_at = time.monotonic()

        await publish_steps(hub, org, 1)
        [during] = await eventually(lambda: events_in(receiver), what="an event in the grace")
        assert during.at - rotated_at < GRACE_SECONDS, "too slow to test the grace period"
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert verify_standard(new, during.body, during.headers)
        assert verify_standard(old, during.body, during.headers)  # a receiver not yet switched
        assert verify(
            new,
            int(during.headers["x-hub-timestamp"]),
            during.body,
            during.headers["x-hub-signature"],
            now=time.time(),
        )

        await asyncio.sleep(max(0.0, GRACE_SECONDS - (time.monotonic() - rotated_at)) + 0.5)
        await publish_steps(hub, org, 1)
        after = (await eventually(lambda: events_in(receiver)[1:], what="an event after"))[0]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        assert verify_standard(new, after.body, after.headers)
        assert not verify_standard(old, after.body, after.headers)
    finally:
        receiver.stop()


async def test_turned_off_nothing_is_sent_and_turned_on_the_held_events_follow_in_order(
    hub: dict[str, Any],
) -> None:
    org = organisation(AGENCY_ID_SYSTEM, f"community:off-on-{uuid.uuid4().hex[:6]}")
    receiver = WebhookReceiver().start()
    try:
        resource, _ = await subscribe(hub, org, {"type": "rest-hook", "endpoint": receiver.url()})
        await eventually(lambda: receiver.accepted, what="the handshake")
        # Two events the endpoint refuses: they are pending (retrying) when it is turned off.
        receiver.failing = True
        await publish_steps(hub, org, 2)
        await eventually(lambda: receiver.requests[1:], what="a refused attempt")

        changed = await put(
            hub,
            org,
            resource,
            channel={**resource["channel"], "endpoint": "https://elsewhere.example/hook"},
        )
        assert changed.status_code == 400
        assert changed.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]

        off = await put(hub, org, resource, status="off")
        assert off.status_code == 200, off.text
        assert off.json()["status"] == "off"
        receiver.failing = False
        # Changes while off are neither numbered nor sent, and held deliveries stay held.
        await publish_steps(hub, org, 3)
        await asyncio.sleep(3.0)
        assert receiver.accepted[1:] == []
        assert await events_counted(hub, org, resource["id"]) == 2

        on = await put(hub, org, resource, status="active")
        assert on.status_code == 200, on.text
        assert on.json()["status"] == "active"
        await eventually(lambda: len(numbers(events_in(receiver))) >= 2, what="the held events")
        await publish_steps(hub, org, 1)
        await eventually(
            lambda: len(numbers(events_in(receiver))) >= 3, what="an event after turning on"
        )
        assert numbers(events_in(receiver)) == [1, 2, 3]  # gap-free, none repeated

        bad = await put(hub, org, resource, status="error")
        assert bad.status_code == 400
        assert bad.json()["issue"][0]["expression"] == ["Subscription.status"]
    finally:
        receiver.stop()


async def test_a_quiet_subscription_gets_heartbeats_and_only_rest_hooks_can_ask(
    hub: dict[str, Any],
) -> None:
    org = organisation(AGENCY_ID_SYSTEM, f"community:heartbeat-{uuid.uuid4().hex[:6]}")
    receiver = WebhookReceiver().start()
    period = {"extension": [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 1}]}
    try:
        resource, secret = await subscribe(
            hub, org, {"type": "rest-hook", "endpoint": receiver.url(), **period}
        )
        assert resource["channel"]["extension"][0]["valueUnsignedInt"] == 1

        def heartbeats() -> list[Received]:
            return [r for r in receiver.accepted if kind(r) == "heartbeat"]

        await eventually(lambda: len(heartbeats()) >= 2, what="two heartbeats", timeout=20.0)
        beats = heartbeats()
        assert beats[1].at - beats[0].at >= 0.8  # one per period, not one per sweep
        for beat in beats:
            assert verify_standard(secret, beat.body, beat.headers)

        for channel, value, expected in (
            ({"type": "message"}, 1, "rest-hook"),
            ({"type": "rest-hook", "endpoint": receiver.url()}, 0, "between 1 and"),
        ):
            refused = await hub["client"].post(
                "/fhir/Subscription",
                json=subscription(
                    org,
                    {
                        **channel,
                        "extension": [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": value}],
                    },
                ),
                headers=agency(hub["stack"], org),
            )
            assert refused.status_code == 400
            issue = refused.json()["issue"][0]
            assert issue["expression"] == ["Subscription.channel.extension(heartbeatPeriod)"]
            assert expected in issue["diagnostics"]
    finally:
        receiver.stop()
