"""Telling referrers, on the real broker and database: a webhook receiver, a Kafka consumer of
the agency's own `referrals.status.<source>.<agency>` and an SMTP server all hear every change,
signed, gap-free, in order, and never with a name or an NHS number, even when the receiver
fails for a while."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_common.jsonio import loads
from hub_common.security.auth import Principal, issue_token
from hub_notifier.domain.email_text import STATUS_LABELS
from hub_notifier.domain.notification import TASK_TOPIC
from hub_notifier.domain.signature import verify
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure, free_port
from tests.support.kafka_io import collect, publish_events
from tests.support.notifier_setup import (
    PERSONAL,
    STEPS,
    WEB_URL,
    eventually,
    notifier_process,
    organisation,
    own_stack,
    restart_without_waiting,
    service_request,
    task_versions,
)
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import IsolatedStack
from tests.support.webhook_receiver import Received, WebhookReceiver

pytestmark = pytest.mark.infra

SECRET_EXTENSION = "https://referral-hub.org/fhir/StructureDefinition/subscription-signing-secret"
MAX_EVENTS = 4  # per notification: small, so a backlog of a few referrals overflows it


def key(org: dict[str, str]) -> str:
    return f"{org['system']}|{org['value']}"


def agency(stack: IsolatedStack, org: dict[str, str]) -> dict[str, str]:
    principal = Principal("agency", subject=org["value"], organisation=key(org))
    return bearer(issue_token(stack.auth_secret, principal))


def operator(stack: IsolatedStack) -> dict[str, str]:
    return bearer(issue_token(stack.auth_secret, Principal("operator", subject="ops")))


def subscription(channel: dict[str, Any], org: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "tell us every change",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria",
                    "valueString": f"Task?requester={key(org)}",
                }
            ]
        },
        "channel": {"payload": "application/fhir+json", **channel},
    }


def parameters(received: Received | dict[str, Any]) -> dict[str, Any]:
    """The status Parameters by name; `events` and `message-backs` list every one (a webhook
    notification can carry several events)."""
    bundle = loads(received.body) if isinstance(received, Received) else received
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "history"
    status = bundle["entry"][0]["resource"]
    assert status["resourceType"] == "Parameters"
    found: dict[str, Any] = {"events": [], "message-backs": []}
    for parameter in status["parameter"]:
        if parameter["name"] == "notification-event":
            found["events"].append({p["name"]: p for p in parameter["part"]})
        elif parameter["name"] == "message-back":
            found["message-backs"].append(parameter)
        else:
            found[parameter["name"]] = parameter
    # One focus entry per event, in the same order, naming nothing but the Task.
    foci = [entry["request"]["url"] for entry in bundle["entry"][1:]]
    assert foci == [e["focus"]["valueReference"]["reference"] for e in found["events"]]
    assert all("resource" not in entry for entry in bundle["entry"][1:])
    return found


def events(received: Received | dict[str, Any]) -> list[tuple[int, str]]:
    """(event number, focus) of every event a notification carries, in order."""
    return [
        (int(e["event-number"]["valueString"]), str(e["focus"]["valueReference"]["reference"]))
        for e in parameters(received)["events"]
    ]


def all_events(received: list[Received]) -> list[tuple[int, str]]:
    return [event for r in received for event in events(r)]


def message_backs(received: list[Received]) -> dict[str, list[dict[str, Any]]]:
    """The last message back's parts per focus, matched to its event by number."""
    focus_of = dict(all_events(received))
    found = {}
    for r in received:
        for message in parameters(r)["message-backs"]:
            number = next(p["valueString"] for p in message["part"] if p["name"] == "event-number")
            found[focus_of[int(number)]] = message["part"]
    return found


def event_number(received: Received | dict[str, Any]) -> int:
    """The number of a notification carrying one event (a Kafka one always does)."""
    [(number, _)] = events(received)
    return number


def focus(received: Received | dict[str, Any]) -> str:
    [(_, reference)] = events(received)
    return reference


def assert_signed(received: Received, secret: str) -> None:
    timestamp = int(received.headers["x-hub-timestamp"])
    assert verify(
        secret, timestamp, received.body, received.headers["x-hub-signature"], now=time.time()
    )
    assert received.headers["content-type"] == "application/fhir+json"
    assert received.headers["idempotency-key"]


def assert_nothing_personal(payload: bytes | str) -> None:
    text = payload.decode() if isinstance(payload, bytes) else payload
    for personal in PERSONAL:
        assert personal not in text


@pytest.fixture(scope="module")
async def hub(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """One notifier with fast retry timings, an SMTP server, and a client to call it."""
    stack, drop = await own_stack(infra)
    smtp_port = free_port()
    sink = SmtpSink().start(smtp_port)
    process = notifier_process(
        stack,
        tmp_path_factory.mktemp("notifier-deliveries"),
        {
            "NOTIFIER_SMTP_PORT": str(smtp_port),
            "NOTIFIER_MAX_EVENTS_PER_NOTIFICATION": str(MAX_EVENTS),
        },
    )
    process.start()
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=10.0) as client:
            yield {"stack": stack, "client": client, "smtp": sink, "process": process}
    finally:
        process.stop()
        sink.stop()
        await drop()


async def subscribe(
    hub: dict[str, Any], org: dict[str, str], channel: dict[str, Any]
) -> tuple[str, str]:
    answer = await hub["client"].post(
        "/fhir/Subscription",
        json=subscription(channel, org),
        headers=agency(hub["stack"], org),
    )
    assert answer.status_code == 201, answer.text
    resource = answer.json()
    assert answer.headers["location"].endswith(f"/fhir/Subscription/{resource['id']}")
    secret = next(e["valueString"] for e in resource["extension"] if e["url"] == SECRET_EXTENSION)
    return resource["id"], secret


async def status_of(
    hub: dict[str, Any], org: dict[str, str], subscription_id: str
) -> dict[str, Any]:
    answer = await hub["client"].get(
        f"/fhir/Subscription/{subscription_id}/$status", headers=agency(hub["stack"], org)
    )
    assert answer.status_code == 200, answer.text
    params = answer.json()["entry"][0]["resource"]["parameter"]
    return {
        "status": next(p["valueCode"] for p in params if p["name"] == "status"),
        "events": int(
            next(p["valueString"] for p in params if p["name"] == "events-since-subscription-start")
        ),
        "errors": [p["valueCodeableConcept"]["text"] for p in params if p["name"] == "error"],
    }


async def publish_referral(
    hub: dict[str, Any],
    org: dict[str, str],
    steps: list[tuple[str, str, str | None]],
    **request: Any,
) -> tuple[str, list[dict[str, Any]]]:
    stack: IsolatedStack = hub["stack"]
    referral_id = str(uuid.uuid4())
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.requested,
        [(referral_id, service_request(referral_id, org, **request), "ReferralRequested")],
    )
    tasks = task_versions(referral_id, org, steps, source=request.get("source", "community"))
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        [(referral_id, task, "TaskChanged") for task in tasks],
    )
    return referral_id, tasks


async def test_webhook_and_kafka_subscribers_hear_every_change_signed_in_order_and_id_only(
    hub: dict[str, Any],
) -> None:
    stack: IsolatedStack = hub["stack"]
    cva = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
    receiver = WebhookReceiver().start()
    try:
        sub_id, secret = await subscribe(
            hub,
            cva,
            {
                "type": "rest-hook",
                "endpoint": receiver.url(),
                "header": ["Authorization: Bearer theirs"],
            },
        )
        await subscribe(hub, cva, {"type": "message"})
        handshake = (await eventually(lambda: receiver.accepted, what="the handshake"))[0]
        assert parameters(handshake)["type"]["valueCode"] == "handshake"
        assert_signed(handshake, secret)
        assert handshake.headers["authorization"] == "Bearer theirs"
        await eventually(
            lambda: _is_active(hub, cva, sub_id), what="the subscription to become active"
        )

        referrals = {
            outcome: await publish_referral(hub, cva, steps) for outcome, steps in STEPS.items()
        }
        # A refusal at intake reaches the same subscriber, as a rejected Task.
        rejection_id = str(uuid.uuid4())
        await publish_events(
            stack.kafka_bootstrap_servers,
            stack.topics.rejected,
            [
                (
                    f"community:{rejection_id}",
                    _rejected_event(rejection_id, "Croydon Voluntary Action"),
                    "ReferralRejected",
                )
            ],
        )
        # A Task version published again under a new event id is no new change.
        duplicate = referrals["completed"][1][2]
        await publish_events(
            stack.kafka_bootstrap_servers,
            stack.topics.tasks,
            [(duplicate["id"], duplicate, "TaskChanged")],
        )
        expected = sum(len(steps) for steps in STEPS.values()) + 1

        notifications = await eventually(
            lambda: len(all_events(receiver.accepted[1:])) >= expected and receiver.accepted[1:],
            what=f"{expected} notifications",
        )
        heard = all_events(notifications)
        assert [number for number, _ in heard] == list(range(1, expected + 1))  # gap-free, in order
        keys = {r.headers["idempotency-key"] for r in receiver.accepted}
        assert len(keys) == len(notifications) + 1
        for received in receiver.accepted:
            assert_signed(received, secret)
            assert_nothing_personal(received.body)
        foci = [reference for _, reference in heard]
        for referral_id, tasks in referrals.values():
            assert foci.count(f"Task/{referral_id}") == len(tasks)
        assert f"Task/{rejection_id}" in foci

        # A community group is no GP practice: it hears the steps, never a message back.
        assert message_backs(notifications) == {}

        on_kafka = await collect(
            stack.kafka_bootstrap_servers,
            stack.topics.agency_status("community", key(cva)),
            lambda seen: len(seen) >= expected,
        )
        assert sorted(event_number(v) for v in on_kafka) == list(range(1, expected + 1))
        for referral_id, _ in referrals.values():
            numbers = [event_number(v) for v in on_kafka if focus(v) == f"Task/{referral_id}"]
            assert numbers == sorted(numbers)  # one referral's events stay in order on its key
        assert_nothing_personal(str(on_kafka))

        assert (await status_of(hub, cva, sub_id))["events"] == expected
        rejected = await hub["client"].get(f"/fhir/Task/{rejection_id}", headers=agency(stack, cva))
        assert rejected.json()["status"] == "rejected"
        assert_nothing_personal(rejected.text)
    finally:
        receiver.stop()


async def _has_events(
    hub: dict[str, Any], org: dict[str, str], subscription_id: str, count: int
) -> bool:
    return (await status_of(hub, org, subscription_id))["events"] >= count


async def _is_active(hub: dict[str, Any], org: dict[str, str], subscription_id: str) -> bool:
    return (await status_of(hub, org, subscription_id))["status"] == "active"


def _rejected_event(
    rejection_id: str, organisation_name: str, email: str | None = None
) -> dict[str, Any]:
    return {
        "rejectionId": rejection_id,
        "source": "community",
        "receivedAt": "2026-03-01T10:00:00+00:00",
        "referrerReference": f"FORM-{rejection_id[:8]}",
        "item": None,
        "referrerContact": {
            "organisation": organisation_name,
            "name": "Amina Rahman",
            "email": email,
        },
        "original": {
            "person": {
                "given_name": PERSONAL[0],
                "family_name": PERSONAL[1],
                "nhs_number": PERSONAL[2],
            }
        },
        "outcome": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "value",
                    "diagnostics": f"{PERSONAL[2]} fails the Modulus 11 check",
                    "expression": ["person.nhs_number"],
                }
            ],
        },
    }


async def test_a_receiver_that_fails_for_a_while_gets_everything_in_order_once_it_recovers(
    hub: dict[str, Any],
) -> None:
    housing = organisation(AGENCY_ID_SYSTEM, "housing:sutton-housing")
    receiver = WebhookReceiver(failing=True).start()
    try:
        sub_id, secret = await subscribe(
            hub, housing, {"type": "rest-hook", "endpoint": receiver.url()}
        )
        _, tasks = await publish_referral(hub, housing, STEPS["completed"][:4], source="housing")
        await eventually(lambda: len(receiver.requests) >= 4, what="failed attempts")
        trouble = await status_of(hub, housing, sub_id)
        assert trouble["status"] == "error"
        assert any("retrying" in error for error in trouble["errors"])

        receiver.failing = False
        delivered = await eventually(
            lambda: len(all_events(receiver.accepted[1:])) >= len(tasks) and receiver.accepted,
            what="everything after recovery",
        )
        assert parameters(delivered[0])["type"]["valueCode"] == "handshake"
        assert [number for number, _ in all_events(delivered[1:])] == [1, 2, 3, 4]
        for received in delivered:
            assert_signed(received, secret)
        # The retries were of the same deliveries: same Idempotency-Key, same body.
        first = receiver.requests[0]
        assert first.answered == 503
        assert any(
            r.headers["idempotency-key"] == first.headers["idempotency-key"] for r in delivered
        )
        recovered = await status_of(hub, housing, sub_id)
        assert recovered["status"] == "active" and recovered["errors"] == []
    finally:
        receiver.stop()


async def test_a_backlog_goes_coalesced_every_event_once_in_order_never_over_the_maximum(
    hub: dict[str, Any],
) -> None:
    org = organisation(ODS_SYSTEM, "H85997")  # a GP practice: its backlog has message backs
    receiver = WebhookReceiver().start()
    try:
        sub_id, secret = await subscribe(
            hub, org, {"type": "rest-hook", "endpoint": receiver.url()}
        )
        await eventually(lambda: receiver.accepted, what="the handshake")
        receiver.failing = True  # the agency's system goes down; changes pile up
        for _ in range(2):
            await publish_referral(hub, org, STEPS["completed"], source="fhir")
        expected = list(range(1, 2 * len(STEPS["completed"]) + 1))
        await eventually(lambda: _has_events(hub, org, sub_id, len(expected)), what="the backlog")
        await eventually(
            lambda: [r for r in receiver.requests if r.answered == 503], what="a failed attempt"
        )
        receiver.failing = False
        await eventually(
            lambda: len(all_events(receiver.accepted[1:])) >= len(expected), what="the backlog"
        )

        posts = receiver.accepted[1:]
        assert [number for number, _ in all_events(posts)] == expected  # each once, in order
        assert len(posts) < len(expected)  # fewer requests than events
        for received in receiver.requests[1:]:  # failed attempts too
            carried = events(received)
            assert 1 <= len(carried) <= MAX_EVENTS
            # The count is the latest event's, and the events run consecutively.
            numbers = [number for number, _ in carried]
            assert numbers == list(range(numbers[0], numbers[-1] + 1))
            count = parameters(received)["events-since-subscription-start"]["valueString"]
            assert int(count) == numbers[-1]
            assert_signed(received, secret)
            assert_nothing_personal(received.body)
        # Message backs name their event, so one beside another's is never misread.
        ended = message_backs(posts)
        assert len(ended) == 2 and all(
            parts[0]["name"] == "event-number" for parts in ended.values()
        )
        assert (await status_of(hub, org, sub_id))["status"] == "active"
    finally:
        receiver.stop()


async def test_the_gp_practice_hears_the_message_back_when_taken_up_declined_and_closed(
    hub: dict[str, Any],
) -> None:
    gp = organisation(ODS_SYSTEM, "H85011")
    receiver = WebhookReceiver().start()
    try:
        sub_id, secret = await subscribe(hub, gp, {"type": "rest-hook", "endpoint": receiver.url()})
        await eventually(lambda: receiver.accepted, what="the handshake")
        await eventually(lambda: _is_active(hub, gp, sub_id), what="the subscription")
        completed, _ = await publish_referral(hub, gp, STEPS["completed"], source="fhir")
        declined, _ = await publish_referral(hub, gp, STEPS["declined"], source="fhir")
        expected = len(STEPS["completed"]) + len(STEPS["declined"])
        posts = await eventually(
            lambda: len(all_events(receiver.accepted[1:])) >= expected and receiver.accepted[1:],
            what=f"{expected} notifications",
        )
        heard = all_events(posts)
        # Each message back: its referral, the step it came with (by the referral's own event
        # order, which is its Task version order), the moment, and the code to record.
        found, closing = [], []
        for received in posts:
            assert_signed(received, secret)
            assert_nothing_personal(received.body)
            for message in parameters(received)["message-backs"]:
                parts = {p["name"]: p for p in message["part"]}
                number = int(parts["event-number"]["valueString"])
                reference = dict(heard)[number]
                version = [n for n, f in heard if f == reference].index(number) + 1
                code = parts.get("code", {}).get("valueCoding", {}).get("code")
                found.append((reference, version, parts["moment"]["valueCode"], code))
                if parts["moment"]["valueCode"] == "closed":
                    closing = message["part"]
        assert sorted(found) == sorted(
            [
                (f"Task/{completed}", 5, "accepted", "871731000000106"),  # first contact made
                (f"Task/{completed}", 6, "closed", None),  # the code is filed once
                (f"Task/{declined}", 3, "declined", "871711000000103"),
            ]
        )
        # The closing message: the support offered and both measures, coded, from the
        # router's own Task outputs (tests/support/notifier_setup.CLOSING_OUTCOMES).
        support = [p["part"] for p in closing if p["name"] == "support-offered"]
        assert [
            (
                {c["code"] for c in s[0]["valueCodeableConcept"]["coding"]},
                s[1]["valueCoding"]["code"],
                s[2]["valueString"],
            )
            for s in support
        ] == [
            ({"carer-support", "302767002"}, "attended", "Croydon carers' cafe"),
            ({"money-debt-benefits", "160932005"}, "referred", "Welfare advice"),
        ]
        assert support[0][3]["valueIdentifier"]["value"] == "croydon-carers"
        wellbeing = [{q["name"]: q for q in p["part"]} for p in closing if p["name"] == "wellbeing"]
        assert [w["timepoint"]["valueCoding"]["code"] for w in wellbeing] == [
            "first-contact",
            "closure",
        ]
        assert wellbeing[1]["instrument"]["valueCodeableConcept"]["coding"][0]["code"] == (
            "718466001"  # SWEMWBS score, SNOMED CT
        )
        assert (
            wellbeing[1]["score"]["valueInteger"],
            wellbeing[1]["metric-score"]["valueDecimal"],
        ) == (28, 25.03)
        assert "Goes to the carers" not in str(closing)  # the worker's own words stay home
    finally:
        receiver.stop()


async def test_a_hanging_endpoint_delays_nobody_else(hub: dict[str, Any]) -> None:
    slow_org = organisation(AGENCY_ID_SYSTEM, "community:slow-group")
    fast_org = organisation(AGENCY_ID_SYSTEM, "community:fast-group")
    slow = WebhookReceiver(hang_seconds=5.0).start()
    fast = WebhookReceiver().start()
    try:
        await subscribe(hub, slow_org, {"type": "rest-hook", "endpoint": slow.url()})
        await publish_referral(hub, slow_org, STEPS["completed"])
        started = time.monotonic()
        await subscribe(hub, fast_org, {"type": "rest-hook", "endpoint": fast.url()})
        await eventually(lambda: fast.accepted, what="the fast handshake", timeout=5)
        # The slow endpoint's attempt is still hanging (1.5 s timeout), yet the fast one is done.
        assert fast.accepted[0].at - started < 1.0
        await publish_referral(hub, fast_org, STEPS["cancelled"])
        await eventually(
            lambda: len(all_events(fast.accepted[1:])) >= 2, what="the fast events", timeout=5
        )
        assert slow.accepted == []  # nothing got through the hanging endpoint meanwhile
    finally:
        slow.hang_seconds = 0.0
        slow.stop()
        fast.stop()


async def test_a_dead_endpoint_is_dead_lettered_visibly_and_an_operator_can_retry(
    hub: dict[str, Any],
) -> None:
    stack, client = hub["stack"], hub["client"]
    org = organisation(AGENCY_ID_SYSTEM, "fire:london-fire-brigade")
    port = free_port()  # nothing listens here yet
    sub_id, secret = await subscribe(
        hub, org, {"type": "rest-hook", "endpoint": f"http://127.0.0.1:{port}/hook"}
    )
    await publish_referral(hub, org, STEPS["completed"][:1], source="fire")

    async def dead_letters() -> list[dict[str, Any]]:
        answer = await client.get(
            "/operator/dead-letters", params={"subscription_id": sub_id}, headers=operator(stack)
        )
        assert answer.status_code == 200
        letters: list[dict[str, Any]] = answer.json()
        return letters if len(letters) >= 2 else []

    letters = await eventually(dead_letters, what="two dead letters", timeout=20)
    assert [(d["kind"], d["event_number"]) for d in letters] == [
        ("handshake", None),
        ("event-notification", 1),
    ]
    assert all(d["last_error"] == "cannot connect" and d["attempts"] > 1 for d in letters)
    assert_nothing_personal(str(letters))
    report = await status_of(hub, org, sub_id)
    assert report["status"] == "error"
    assert sum("dead-lettered" in error for error in report["errors"]) == 2
    # Dead letters are the operator's business, not an agency's.
    assert (
        await client.get("/operator/dead-letters", headers=agency(stack, org))
    ).status_code == 403

    receiver = WebhookReceiver(port=port).start()
    try:
        for letter in letters:
            retried = await client.post(
                f"/operator/dead-letters/{letter['delivery_id']}/retry", headers=operator(stack)
            )
            assert retried.status_code == 202
        delivered = await eventually(lambda: len(receiver.accepted) >= 2 and receiver.accepted)
        assert [r.headers["idempotency-key"] for r in delivered] == [
            d["delivery_id"] for d in letters
        ]
        assert event_number(delivered[1]) == 1
        for received in delivered:
            assert_signed(received, secret)
        assert (
            await client.post(
                f"/operator/dead-letters/{uuid.uuid4()}/retry", headers=operator(stack)
            )
        ).status_code == 404
    finally:
        receiver.stop()


async def test_a_referrer_with_no_system_is_told_by_email(hub: dict[str, Any]) -> None:
    stack, sink = hub["stack"], hub["smtp"]
    gp = organisation(ODS_SYSTEM, "H85999")
    address = "practice.h85999@nhs.example"
    referral_id, tasks = await publish_referral(
        hub, gp, STEPS["completed"], source="fhir", referrer_email=address
    )
    mine = await eventually(
        lambda: (
            len([m for to, m in sink.messages if to == [address]]) >= len(tasks)
            and [m for to, m in sink.messages if to == [address]]
        ),
        what="one e-mail per change",
    )
    assert [m["Subject"] for m in mine] == [
        f"Referral {referral_id}: {STATUS_LABELS[t['status']]}" for t in tasks
    ]
    for message in mine:
        body = message.get_payload(decode=True).decode()
        # The link opens the web app's page for the referral, not the notifier's API.
        assert f"{WEB_URL}/referrer/referrals/{referral_id}" in body
        assert "/fhir/Task/" not in body
        assert_nothing_personal(message.as_string())
    # The code to record comes with the step at which the person took up support, once.
    coded = [m for m in mine if "871731000000106" in m.get_payload()]
    assert [m["Subject"] for m in coded] == [f"Referral {referral_id}: in progress"]
    assert tasks[4]["businessStatus"]["coding"][0]["code"] == "first-contact-made"
    assert "871731000000106" in mine[4].get_payload()
    closing = mine[-1].get_payload(decode=True).decode()
    assert "Support offered:" in closing and "- Croydon carers' cafe: attended" in closing
    assert "satisfied 4" in closing and "total 28 (metric 25.03)" in closing

    rejection_id = str(uuid.uuid4())
    rejecter = "referrals@residents.example"
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.rejected,
        [
            (
                f"community:{rejection_id}",
                _rejected_event(rejection_id, "Broad Green Residents", rejecter),
                "ReferralRejected",
            )
        ],
    )
    told = await eventually(
        lambda: [m for to, m in sink.messages if to == [rejecter]], what="the rejection e-mail"
    )
    body = told[0].get_payload(decode=True).decode()
    assert "could not be accepted: something in it needs correcting" in body
    assert f"{WEB_URL}/referrer/resubmit?rejection={rejection_id}" in body
    assert_nothing_personal(told[0].as_string())


async def test_changes_recorded_before_their_referral_are_still_emailed_in_order_once(
    hub: dict[str, Any],
) -> None:
    """The Task topic can run ahead of `referrals.requested` (after a restart, or batches
    racing): the versions recorded while the referrer's address was unknown are e-mailed once
    the ServiceRequest arrives, before any later version, and none twice."""
    stack, sink = hub["stack"], hub["smtp"]
    gp = organisation(ODS_SYSTEM, "H85998")
    address = "practice.h85998@nhs.example"
    referral_id = str(uuid.uuid4())
    tasks = task_versions(referral_id, gp, STEPS["completed"], source="fhir")

    def mine() -> list[Any]:
        return [m for to, m in sink.messages if to == [address]]

    async def versions_recorded(count: int) -> bool:
        answer = await hub["client"].get(
            f"/fhir/Task/{referral_id}/_history", headers=agency(stack, gp)
        )
        return answer.status_code == 200 and answer.json().get("total", 0) >= count

    early = tasks[:4]
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        [(referral_id, task, "TaskChanged") for task in early],
    )
    await eventually(lambda: versions_recorded(len(early)), what="the early Task versions")
    assert mine() == []  # no address known yet
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.requested,
        [
            (
                referral_id,
                service_request(referral_id, gp, source="fhir", referrer_email=address),
                "ReferralRequested",
            )
        ],
    )
    await publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        [(referral_id, task, "TaskChanged") for task in tasks[len(early) :]],
    )
    await eventually(lambda: len(mine()) >= len(tasks), what="one e-mail per change")
    await asyncio.sleep(1.0)  # time enough for a duplicate to show up
    assert [m["Subject"] for m in mine()] == [
        f"Referral {referral_id}: {STATUS_LABELS[t['status']]}" for t in tasks
    ]
    for message in mine():
        assert_nothing_personal(message.as_string())


async def test_an_agency_can_neither_follow_nor_inspect_anothers_subscriptions(
    hub: dict[str, Any],
) -> None:
    stack, client = hub["stack"], hub["client"]
    mine = organisation(AGENCY_ID_SYSTEM, "police:met-sw")
    theirs = organisation(ODS_SYSTEM, "H85002")
    refused = await client.post(
        "/fhir/Subscription",
        json={**subscription({"type": "message"}, theirs)},
        headers=agency(stack, mine),
    )
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    sub_id, _ = await subscribe(hub, mine, {"type": "message"})
    own = await client.get(f"/fhir/Subscription/{sub_id}", headers=agency(stack, mine))
    assert own.status_code == 200 and "extension" not in own.json()  # the secret is not shown again
    for path in (f"/fhir/Subscription/{sub_id}", f"/fhir/Subscription/{sub_id}/$status"):
        assert (await client.get(path, headers=agency(stack, theirs))).status_code == 404
    coordinator = bearer(
        issue_token(stack.auth_secret, Principal("coordinator", subject="c", boroughs=("Croydon",)))
    )
    assert (
        await client.post(
            "/fhir/Subscription", json=subscription({"type": "message"}, mine), headers=coordinator
        )
    ).status_code == 403


async def test_killing_the_notifier_loses_nothing_and_a_repeat_keeps_its_number(
    hub: dict[str, Any],
) -> None:
    org = organisation(AGENCY_ID_SYSTEM, "community:crash-test-group")
    receiver = WebhookReceiver(hang_seconds=0.3).start()  # keeps a delivery in flight
    process = hub["process"]
    try:
        sub_id, secret = await subscribe(
            hub, org, {"type": "rest-hook", "endpoint": receiver.url()}
        )
        for _ in range(4):
            await publish_referral(hub, org, STEPS["completed"])
        expected = list(range(1, 4 * len(STEPS["completed"]) + 1))
        # Every change recorded (and its notification with it), most of them not yet sent.
        await eventually(
            lambda: _has_events(hub, org, sub_id, len(expected)), what="every change recorded"
        )
        assert len(all_events(receiver.accepted[1:])) < len(expected)
        process.kill()  # SIGKILL: mid-stream, no shutdown hooks
        restart_without_waiting(process)

        def numbers() -> list[int]:
            return [number for number, _ in all_events(receiver.accepted[1:])]

        await eventually(lambda: set(numbers()) >= set(expected), what="every event", timeout=30)
        # Everything arrived, in order. A resend may carry a different set of events (a new
        # key), but one key is always the same request, byte for byte, and one event number
        # always the same change.
        assert list(dict.fromkeys(numbers())) == expected
        sent: dict[str, Received] = {}
        for received in receiver.accepted[1:]:
            assert_signed(received, secret)
            first = sent.setdefault(received.headers["idempotency-key"], received)
            assert first.body == received.body
        focus_of: dict[int, str] = {}
        for number, reference in all_events(receiver.accepted[1:]):
            assert focus_of.setdefault(number, reference) == reference
    finally:
        receiver.stop()
        process.kill()  # still rejoining its consumer group: nothing left to shut down cleanly
