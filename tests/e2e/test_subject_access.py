"""Issue 17 part 1 on the real stack (Kafka, PostgreSQL, each service a process): one person is
seeded through every path (a GP referral with an NHS number, a police referral of the same
person without one, routing, acceptance, a care plan, wellbeing measures, an onward referral to
a community service, the outcome, a webhook delivery, audited reads), another person is
referred beside them, and an operator exports the first person. The export holds every piece,
nothing about the other person, validates against R4, and is itself on the audit record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub_cli.subject_access import export
from hub_common.fhir.systems import referrer_reference_system
from hub_common.jsonio import dumps
from hub_common.privacy.subject_access import held_by
from hub_common.region.directory import DirectoryService, Organisation, to_bundle
from hub_common.security.auth import Principal, issue_token
from tests.e2e.test_one_person_two_agencies import (
    GP,
    OWNER,
    ROSTER,
    TOPIC,
    measures,
    police_referral_of_the_gp_patient,
)
from tests.integration.test_fhir_conformance import problems
from tests.support.fhir_validator import FhirValidator
from tests.support.kafka_io import collect, publish
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.infra

NHS_NUMBER = "9990166137"  # the GP example's patient (tests/fixtures/inbound)
OUTCOME = "Goes to the lunch club on Thursdays"
OPERATOR = Principal("operator", "ops-subject-access")
EXPORT_BOUND_SECONDS = 10.0  # docs/data-protection.md: the documented time, with a margin


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
    with running_hub(env, tmp_path_factory.mktemp("subject-access")) as running:
        yield running


def bearer(stack: IsolatedStack, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(stack.auth_secret, principal)}"}


async def seed(
    stack: IsolatedStack, services: dict[str, ServiceProcess], receiver: WebhookReceiver
) -> dict[str, str]:
    """The person through every path; the other person referred beside them. Referral ids."""
    gp = bearer(stack, Principal("agency", GP, organisation=GP, sources=("fhir",)))
    owner = bearer(stack, Principal("link_worker", OWNER))
    notifier, router = services["notifier"].url, services["router"].url
    bootstrap = stack.kafka_bootstrap_servers
    service = DirectoryService(
        "svc-sar-lunch", "Lunch club", Organisation("org-sar", "Thornton Heath Trust"), feed="sar"
    )
    await publish(
        bootstrap, stack.topics.directory_services, dumps(to_bundle(service)), key=service.id
    )
    async with httpx.AsyncClient(timeout=15.0) as client:
        made = await client.post(
            f"{notifier}/fhir/Subscription",
            json={
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "our referrals",
                "criteria": TOPIC,
                "channel": {
                    "type": "rest-hook",
                    "endpoint": receiver.url("/gp"),
                    "payload": "application/fhir+json",
                },
            },
            headers=gp,
        )
        assert made.status_code == 201, made.text
    await asyncio.sleep(1.0)  # the router applies the roster before the referrals arrive

    tag = f"-{stack.topic_prefix[-8:]}"
    await publish(bootstrap, stack.topics.inbound("fhir"), example("fhir", tag), key="gp")
    police = police_referral_of_the_gp_patient(tag)
    await publish(bootstrap, stack.topics.inbound("police"), police, key="police")
    other = example("community", tag)
    await publish(bootstrap, stack.topics.inbound("community"), other, key="other")
    requests = await collect(bootstrap, stack.topics.requested, lambda seen: len(seen) >= 3)
    ids = {}
    for request in requests:
        systems = {i["system"] for i in request["identifier"]}
        for source in ("fhir", "police", "community"):
            if referrer_reference_system(source) in systems:
                ids[source] = request["id"]
    assert set(ids) == {"fhir", "police", "community"}
    await collect(
        bootstrap,
        stack.topics.tasks,
        lambda seen: (
            {t["id"] for t in seen if t.get("owner", {}).get("reference", "").endswith(OWNER)}
            >= {ids["fhir"], ids["police"]}
        ),
    )

    start = datetime.now(UTC).replace(microsecond=0)
    async with httpx.AsyncClient(timeout=15.0) as client:
        for source in ("fhir", "police"):
            accepted = await client.post(f"{router}/fhir/Task/{ids[source]}/$accept", headers=owner)
            assert accepted.status_code == 200, accepted.text
        task = f"{router}/fhir/Task/{ids['fhir']}"
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
                "whatMatters": "Seeing people again",
                "goals": [{"description": "Go to a lunch club", "need": "loneliness-isolation"}],
            },
            headers=owner,
        )
        assert plan.status_code in (200, 201), plan.text

        last: list[httpx.Response] = []

        async def onward() -> httpx.Response | None:  # once the router has the directory
            answer = await client.post(
                f"{task}/$refer-onward",
                json={
                    "service": "svc-sar-lunch",
                    "need": "loneliness-isolation",
                    "person": {"name": "Jean Luc Baptiste", "phone": "07700 900321"},
                    "consent": {"given": True, "recordedAt": start.isoformat()},
                },
                headers=owner,
            )
            last.append(answer)
            return answer if answer.status_code != 422 else None

        referred = await eventually(onward)
        assert referred is not None and referred.status_code == 201, last[-1].text
        ids["onward"] = referred.json()["id"]

        async def owner_reads() -> bool:  # an audited read of the person
            person = f"{notifier}/fhir/ServiceRequest/{ids['fhir']}"
            return (await client.get(person, headers=owner)).status_code == 200

        assert await eventually(owner_reads)
        closed = await client.post(
            f"{task}/$update-status",
            json={
                "status": "completed",
                "businessStatus": "connected-to-services",
                "outputs": {"outcome": OUTCOME},
            },
            headers=owner,
        )
        assert closed.status_code == 200, closed.text
    return ids


async def settled(client: httpx.AsyncClient, notifier: str, ids: dict[str, str]) -> bool:
    """The notifier has the closure's Task version and the owner's read on its audit log."""
    operator = {"Authorization": client.headers["Authorization"]}
    entries = await client.get(
        f"{notifier}/audit", params={"resource": ids["fhir"], "limit": 1000}, headers=operator
    )
    reads = [
        e for e in entries.json()["entries"]
        if e["actor"]["subject"] == OWNER and e["resourceKind"] == "ServiceRequest"
        and e["action"] == "read"
    ] if entries.status_code == 200 else []  # fmt: skip
    return bool(reads)


async def test_an_operator_exports_everything_about_one_person(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    receiver: WebhookReceiver,
    fhir_validator: FhirValidator,
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    run_cli(stack.env(), "workers", "load", str(roster))
    ids = await seed(stack, services, receiver)
    urls = {name: process.url for name, process in services.items()}
    token = issue_token(stack.auth_secret, OPERATOR)
    operator = {"Authorization": f"Bearer {token}"}
    gp_id, police_id = ids["fhir"], ids["police"]

    async def gp_heard() -> bool:
        return any(b"notification-event" in r.body for r in receiver.requests if r.path == "/gp")

    async def closure_tracked() -> bool:
        async with httpx.AsyncClient(timeout=10.0, headers=operator) as client:
            if not await settled(client, urls["notifier"], ids):
                return False
        done = await export(urls, token, {"referral": gp_id})
        versions = [
            e["resource"] for e in done.bundle.get("entry", [])
            if e["resource"]["resourceType"] == "Task"
            and e["resource"]["meta"]["source"] == held_by("notifier")
            and e["resource"]["id"] == gp_id
        ]  # fmt: skip
        return any(t["status"] == "completed" for t in versions)

    assert await eventually(gp_heard, timeout=45.0), "no webhook delivery for the GP"
    assert await eventually(closure_tracked, timeout=45.0), "the notifier never saw the closure"

    done = await export(urls, token, {"nhs-number": NHS_NUMBER})
    print(f"\nsubject access export: {len(done.bundle['entry'])} records in {done.seconds:.2f} s")
    assert done.seconds < EXPORT_BOUND_SECONDS
    # Both agencies' referrals: the police's has no NHS number, linked by demographics.
    assert sorted(done.referral_ids) == sorted([gp_id, police_id])
    resources = [e["resource"] for e in done.bundle["entry"]]

    def held(kind: str, service: str, **where: Any) -> list[dict[str, Any]]:
        return [
            r for r in resources
            if r["resourceType"] == kind and r["meta"]["source"] == held_by(service)
            and all(r.get(k) == v for k, v in where.items())
        ]  # fmt: skip

    for referral in (gp_id, police_id):
        assert held("ServiceRequest", "intake", id=referral), referral  # as received
        assert held("ServiceRequest", "notifier", id=referral), referral  # as tracked
        assert held("Task", "router", id=referral), referral
        assert held("Patient", "notifier", id=referral), referral  # kept to link the person
    # Every Task version the notifier recorded, from the offer to the closure.
    versions = sorted(int(t["meta"]["versionId"]) for t in held("Task", "notifier", id=gp_id))
    assert versions == list(range(1, versions[-1] + 1)) and versions[-1] >= 4, versions
    # Casework: the care plan, the wellbeing measures and the outcome, the onward referral.
    [plan] = held("CarePlan", "router", id=gp_id)
    assert plan["description"] == "Seeing people again"
    [router_task] = held("Task", "router", id=gp_id)
    assert OUTCOME in json.dumps(router_task)
    outputs = {  # the measures taken at first contact are in that version
        c["code"]
        for t in held("Task", "notifier", id=gp_id)
        for o in t.get("output", [])
        for c in o["type"]["coding"]
    }
    assert {"wellbeing-measure", "outcome"} <= outputs, outputs
    assert held("ServiceRequest", "router", id=ids["onward"])
    assert held("Task", "router", id=ids["onward"])
    # The deliveries made about the referral: the GP's webhook notifications.
    deliveries = held("Communication", "notifier")
    assert any(
        d["status"] == "completed" and d["about"][0]["identifier"]["value"] == gp_id
        for d in deliveries
    ), deliveries
    # Who read or changed the records: the owner's read of the person among them.
    audits = held("AuditEvent", "notifier")
    assert any(
        a["agent"][0]["who"]["identifier"]["value"] == OWNER and a["action"] == "R" for a in audits
    )

    # Nothing about the other person: neither their referral nor their name.
    text = json.dumps(done.bundle)
    assert ids["community"] not in text and "Mensah" not in text and "Gloria" not in text

    # The summary names each referral, the outcome and the access record.
    for expected in (gp_id, police_id, OUTCOME, "Care and support plan", "Referred on to", OWNER):
        assert expected in done.summary, expected
    assert ids["community"] not in done.summary

    # Found as well by demographics (family name and birth date) or by one referral.
    by_name = await export(urls, token, {"family": "Baptiste", "birthdate": "1968-02-29"})
    by_referral = await export(urls, token, {"referral": police_id})
    assert (
        sorted(by_name.referral_ids)
        == sorted(by_referral.referral_ids)
        == sorted(done.referral_ids)
    )

    # The export is on the audit record, in every service that contributed.
    async def exports_recorded() -> set[str]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            answer = await client.get(
                f"{urls['notifier']}/audit",
                params={"resource": police_id, "action": "export", "limit": 1000},
                headers=operator,
            )
        return {
            e["service"] for e in answer.json()["entries"]
            if e["actor"]["subject"] == OPERATOR.subject
        }  # fmt: skip

    assert await eventually(exports_recorded) == {"intake", "router", "notifier"}
    again = await export(urls, token, {"referral": police_id})
    recorded = [
        e["resource"] for e in again.bundle["entry"]
        if e["resource"]["resourceType"] == "AuditEvent" and e["resource"]["action"] == "E"
    ]  # fmt: skip
    assert {a["agent"][0]["who"]["identifier"]["value"] for a in recorded} == {OPERATOR.subject}
    assert "| E |" in again.summary

    # A key that fits nobody finds nothing; a request with no key is refused.
    nobody = await export(urls, token, {"nhs-number": "9999999999"})
    assert nobody.referral_ids == [] and "entry" not in nobody.bundle
    async with httpx.AsyncClient(timeout=10.0) as client:
        refused = await client.get(
            f"{urls['notifier']}/operator/subject-access/$match",
            params={"postcode": "CR0 1JA"},
            headers=operator,
        )
    assert refused.status_code == 422, refused.text

    # The operator's command writes the same export as files.
    env = {f"{name.upper()}_URL": url for name, url in urls.items()}
    printed = run_cli(
        {**stack.env(), **env, "HUB_OPERATOR_TOKEN": token},
        *("subject-access", "export", "--family", "Baptiste", "--birth-date", "1968-02-29"),
        *("--postcode", "CR0 1JA", "--out", str(tmp_path / "request")),
    )
    assert printed.startswith("2 referral(s)"), printed
    [written] = (tmp_path / "request").glob("subject-access-*.json")
    assert json.loads(written.read_bytes())["type"] == "collection"
    assert gp_id in written.with_suffix(".md").read_text()

    # Everything exported validates against base R4.
    assert problems(fhir_validator.validate(done.bundle)) == []
