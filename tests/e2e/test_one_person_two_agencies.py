"""Issue 13's "done when", on the real stack (Kafka, PostgreSQL, each service a process): a GP
referral and a police referral for one person, each through acceptance, first contact with
ONS4 and SWEMWBS, a care plan, two services connected and closure. Checks: the owning link
worker reads the person and another worker gets 404; the police's system never receives a
score (webhook deliveries and Task reads); the GP practice receives an accepted message with
871731000000106 and a closing message whose support offered and outcomes are coded and
complete, also as a document Bundle; every resource the hub emitted validates against R4."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hub_common.fhir.systems import referrer_reference_system
from hub_common.fhir.wellbeing import INSTRUMENTS, Instrument
from hub_common.security.auth import Principal, issue_token
from tests.integration.test_fhir_conformance import problems
from tests.support.fhir_validator import FhirValidator
from tests.support.fixtures import inbound
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.infra

GP = "https://fhir.nhs.uk/Id/ods-organization-code|H85001"
POLICE = "https://referral-hub.org/fhir/Id/agency|police:metropolitan-police-service"
OWNER, OTHER = "lw-e2e-owner", "lw-e2e-other"
TOPIC = "https://referral-hub.org/fhir/SubscriptionTopic/referral-task"
ROSTER = (
    "worker_id,name,email,boroughs,postcode_districts,needs,languages,max_caseload,"
    "max_new_per_day,working_days,leave_from,leave_to,risk_cleared,active\n"
    f"{OWNER},Owner Test,owner@example.org,Croydon,CR0,bereavement;mental-wellbeing;"
    "loneliness-isolation;hoarding;money-debt-benefits,en;fr,,,Mon;Tue;Wed;Thu;Fri;Sat;Sun,,,Y,Y\n"
    f"{OTHER},Other Test,other@example.org,Sutton,SM1,mental-wellbeing,en,,,"
    "Mon;Tue;Wed;Thu;Fri;Sat;Sun,,,Y,Y\n"
)
SCORE_WORDS = ("wellbeing", "swemwbs", "ons4", "metric", "support-offered", "QuestionnaireResponse")


def police_referral_of_the_gp_patient(tag: str) -> bytes:
    """The police example, about the GP example's patient (Jean Luc Baptiste), without an
    NHS number: how the same person reaches the hub from another agency."""
    body = json.loads(inbound("police-vulnerability-referral.json"))
    body["occurrence_ref"] += tag
    subject = body["subject"]
    subject.update(
        surname="Baptiste",
        forenames="Jean Luc",
        date_of_birth="1968-02-29",
        address={"line1": "5 Park Lane", "town": "Croydon", "postcode": "CR0 1JA"},
        phone="07700 900321",
    )
    del subject["nhs_number"]
    return json.dumps(body).encode()


def same_demographics(gp: dict[str, Any], police: dict[str, Any]) -> None:
    """The premise: the two referrals name one person (name, birth date, postcode)."""
    people = []
    for request in (gp, police):
        [patient] = [r for r in request["contained"] if r["resourceType"] == "Patient"]
        name = patient["name"][0]
        people.append(
            (name["family"], tuple(name["given"]), patient["birthDate"],
             patient["address"][0]["postalCode"])
        )  # fmt: skip
    assert people[0] == people[1], people


async def check_same_person(
    client: httpx.AsyncClient, notifier: str, owner: dict[str, str], ids: dict[str, str]
) -> None:
    """The notifier links the two referrals as one person's (issue 13 item 8): the owner of the
    police referral, while they hold it, sees the GP's referral beside it (closed by then)."""

    async def linked() -> dict[str, Any] | None:
        seen = await client.get(f"{notifier}/people/referrals/{ids['police']}", headers=owner)
        return seen.json() if seen.status_code == 200 else None

    people = await eventually(linked)
    assert people is not None, "the owner reads no same-person view"
    assert {r["referralId"] for r in people["referrals"]} == set(ids.values())


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    env = {**stack.env(), "NOTIFIER_ALLOW_HTTP_ENDPOINTS": "true"}
    with running_hub(env, tmp_path_factory.mktemp("one-person")) as running:
        yield running


def bearer(stack: IsolatedStack, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(stack.auth_secret, principal)}"}


def measures(when: str, ons4: int, swemwbs: int, at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "instrument": "ons4",
            "when": when,
            "takenAt": at.isoformat(),
            "answers": {"satisfied": ons4, "worthwhile": ons4, "happy": ons4, "anxious": 10 - ons4},
        },
        {
            "instrument": "swemwbs",
            "when": when,
            "takenAt": at.isoformat(),
            "answers": dict.fromkeys(INSTRUMENTS[Instrument.SWEMWBS].codes, swemwbs),
        },
    ]


SUPPORT = [
    {"need": "loneliness-isolation", "kind": "attended", "service": "Croydon lunch club"},
    {"need": "money-debt-benefits", "kind": "referred", "service": "Welfare benefits advice"},
]


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


def parameters(body: bytes) -> list[dict[str, Any]]:
    bundle = json.loads(body)
    status = bundle["entry"][0]["resource"]
    return list(status["parameter"])


def message_backs(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    found = []
    for received in receiver.requests:
        if received.path == path and received.body:
            found += [p for p in parameters(received.body) if p["name"] == "message-back"]
    return found


def parts(parameter: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in parameter["part"] if p["name"] == name]


def value(parameter: dict[str, Any], name: str) -> Any:
    [part] = parts(parameter, name)
    return next(v for k, v in part.items() if k.startswith("value"))


async def test_one_person_referred_by_their_gp_and_the_police(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    receiver: WebhookReceiver,
    fhir_validator: FhirValidator,
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    run_cli(stack.env(), "workers", "load", str(roster))
    gp = bearer(stack, Principal("agency", GP, organisation=GP, sources=("fhir",)))
    police = bearer(stack, Principal("agency", POLICE, organisation=POLICE, sources=("police",)))
    owner = bearer(stack, Principal("link_worker", OWNER))
    other = bearer(stack, Principal("link_worker", OTHER))
    notifier, router = services["notifier"].url, services["router"].url
    async with httpx.AsyncClient(timeout=15.0) as client:
        for headers, path in ((gp, "/gp"), (police, "/police")):
            made = await client.post(
                f"{notifier}/fhir/Subscription",
                json={
                    "resourceType": "Subscription",
                    "status": "requested",
                    "reason": "our referrals",
                    "criteria": TOPIC,
                    "channel": {
                        "type": "rest-hook",
                        "endpoint": receiver.url(path),
                        "payload": "application/fhir+json",
                    },
                },
                headers=headers,
            )
            assert made.status_code == 201, made.text
    await asyncio.sleep(1.0)  # the router applies the roster before the referrals arrive

    tag = f"-{stack.topic_prefix[-8:]}"
    bootstrap = stack.kafka_bootstrap_servers
    await publish(bootstrap, stack.topics.inbound("fhir"), example("fhir", tag), key="gp")
    police_body = police_referral_of_the_gp_patient(tag)
    await publish(bootstrap, stack.topics.inbound("police"), police_body, key="police")
    requests = await collect(
        stack.kafka_bootstrap_servers, stack.topics.requested, lambda seen: len(seen) >= 2
    )
    by_source = {}
    for request in requests:
        for source in ("fhir", "police"):
            systems = {i["system"] for i in request["identifier"]}
            if referrer_reference_system(source) in systems:
                by_source[source] = request
    assert set(by_source) == {"fhir", "police"}
    same_demographics(by_source["fhir"], by_source["police"])
    ids = {source: request["id"] for source, request in by_source.items()}
    offered = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        lambda seen: (
            {t["id"] for t in seen if t.get("owner", {}).get("reference", "").endswith(OWNER)}
            >= set(ids.values())
        ),
    )
    assert offered

    start = datetime.now(UTC).replace(microsecond=0)
    async with httpx.AsyncClient(timeout=15.0) as client:
        for source in ("fhir", "police"):  # the GP's first: it is closed when the link is read
            referral = ids[source]
            task = f"{router}/fhir/Task/{referral}"
            accepted = await client.post(f"{task}/$accept", headers=owner)
            assert accepted.status_code == 200, accepted.text
            contact = await client.post(
                f"{task}/$update-status",
                json={
                    "status": "in-progress",
                    "businessStatus": "first-contact-made",
                    "outputs": {"measures": measures("first-contact", 3, 2, start)},
                },
                headers=owner,
            )
            assert contact.status_code == 200, contact.text
            plan = await client.post(
                f"{task}/$care-plan",
                json={
                    "whatMatters": "Seeing people again after losing my mother",
                    "goals": [
                        {"description": "Go to a lunch club", "need": "loneliness-isolation"}
                    ],
                    "actions": [{"description": "Refer to benefits advice", "by": "link-worker"}],
                },
                headers=owner,
            )
            assert plan.status_code in (200, 201), plan.text

            # The owner reads the person; another worker finds nothing there.
            person = f"{notifier}/fhir/ServiceRequest/{referral}"

            async def owner_reads(url: str = person) -> bool:
                return (await client.get(url, headers=owner)).status_code == 200

            assert await eventually(owner_reads), f"{source}: the owner cannot read the person"
            assert (await client.get(person, headers=other)).status_code == 404
            assert (await client.get(task, headers=other)).status_code == 404
            if source == "police":
                await check_same_person(client, notifier, owner, ids)

            closed = await client.post(
                f"{task}/$update-status",
                json={
                    "status": "completed",
                    "businessStatus": "connected-to-services",
                    "outputs": {
                        "outcome": "Goes to the lunch club weekly",
                        "measures": measures("first-contact", 3, 2, start)
                        + measures("closure", 7, 4, start + timedelta(days=1)),
                        "supportOffered": SUPPORT,
                    },
                },
                headers=owner,
            )
            assert closed.status_code == 200, closed.text
        care_plans = [
            (await client.get(f"{router}/fhir/CarePlan/{r}", headers=owner)) for r in ids.values()
        ]

        # The GP practice: accepted with 871731000000106, then closed, coded and complete.
        async def gp_messages() -> list[dict[str, Any]]:
            found = message_backs(receiver, "/gp")
            moments = {value(m, "moment") for m in found}
            return found if {"accepted", "closed"} <= moments else []

        gp_backs = await eventually(gp_messages, timeout=45.0)
        assert gp_backs, f"the GP practice heard {len(receiver.requests)} requests, no closure"
        [accepted_back] = [m for m in gp_backs if value(m, "moment") == "accepted"]
        assert value(accepted_back, "code")["code"] == "871731000000106"
        [closing] = [m for m in gp_backs if value(m, "moment") == "closed"]
        support = parts(closing, "support-offered")
        assert len(support) == len(SUPPORT)
        for offered_part, sent in zip(support, SUPPORT, strict=True):
            assert value(offered_part, "kind")["code"] == sent["kind"]
            assert value(offered_part, "service") == sent["service"]
            need_codes = {c["code"] for c in value(offered_part, "need")["coding"]}
            assert sent["need"] in need_codes and len(need_codes) == 2  # and SNOMED CT
        wellbeing = parts(closing, "wellbeing")
        assert len(wellbeing) == 4  # ONS4 and SWEMWBS, at first contact and at closure
        for measure in wellbeing:
            instrument = {c["code"] for c in value(measure, "instrument")["coding"]}
            items = parts(measure, "item")
            if "swemwbs" in instrument:
                assert "718466001" in instrument and len(items) == 7
                assert value(measure, "score") in (14, 28) and value(measure, "metric-score")
            else:
                assert len(items) == 4
        assert "Goes to the lunch club" not in json.dumps(closing)

        documents = []
        for back in (accepted_back, closing):
            link = urlsplit(value(back, "document"))
            answer = await client.get(f"{notifier}{link.path}", headers=gp)
            assert answer.status_code == 200, answer.text
            documents.append(answer.json())
            for stranger in (police, owner):
                refused = await client.get(f"{notifier}{link.path}", headers=stranger)
                assert refused.status_code in (403, 404)
        closing_entries = [e["resource"]["resourceType"] for e in documents[1]["entry"]]
        referral = next(
            e["resource"] for e in documents[1]["entry"]
            if e["resource"]["resourceType"] == "ServiceRequest"
        )  # fmt: skip
        reasons = {(c["system"], c["code"]) for r in referral["reasonCode"] for c in r["coding"]}
        assert ("http://snomed.info/sct", "422650009") in reasons  # social isolation, mapped
        assert closing_entries.count("Observation") == 4
        assert closing_entries.count("ServiceRequest") == 1 + len(SUPPORT)

        # The police's system never receives a score: neither pushed nor read.
        police_reads = [
            await client.get(f"{notifier}/fhir/Task/{ids['police']}", headers=police),
            await client.get(f"{notifier}/fhir/Task/{ids['police']}/_history", headers=police),
            await client.get(f"{notifier}/fhir/Task", headers=police),
        ]

    async def police_heard() -> bool:
        return any(
            b"notification-event" in r.body for r in receiver.requests if r.path == "/police"
        )

    assert await eventually(police_heard)
    await asyncio.sleep(3.0)  # the police's later deliveries (closure's too) arrive meanwhile
    pushed = [r.body.decode() for r in receiver.requests if r.path == "/police"]
    for text in [*pushed, *(answer.text for answer in police_reads)]:
        lowered = text.lower()
        assert not [w for w in SCORE_WORDS if w.lower() in lowered], text[:500]
        assert "message-back" not in lowered
    assert all(answer.status_code == 200 for answer in police_reads)

    # Everything the hub emitted on the way validates against base R4.
    tasks = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        lambda seen: sum(t["status"] == "completed" for t in seen) >= 2,
    )
    emitted = [*requests, *tasks, *documents, *(p.json() for p in care_plans)]
    emitted += [json.loads(r.body) for r in receiver.requests if r.body]
    emitted += [answer.json() for answer in police_reads]
    assert all(p.status_code == 200 for p in care_plans)
    failures = {
        f"{resource['resourceType']}/{resource.get('id')}": found
        for resource in emitted
        if (found := problems(fhir_validator.validate(resource)))
    }
    assert failures == {}
