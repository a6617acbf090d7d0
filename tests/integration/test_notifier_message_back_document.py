"""The message back as a FHIR document Bundle, on the real database: the GP practice that made
the referral reads one per moment (accepted, declined, closed), coded as the PRSB standard asks;
nobody else reads it; the e-mail of that moment links to it; and it validates against base R4."""

from __future__ import annotations

import email
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM, SNOMED
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters import orm
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings
from tests.support.credentials import bearer
from tests.support.fhir_validator import FhirValidator
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import (
    CLOSING_OUTCOMES,
    STEPS,
    organisation,
    own_stack,
    service_request,
    task_versions,
)
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

GP = organisation(ODS_SYSTEM, "H85001")
OTHER_GP = organisation(ODS_SYSTEM, "H85999")
CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
PUBLIC_URL = "https://hub.example.org"


def key(org: dict[str, str]) -> str:
    return f"{org['system']}|{org['value']}"


def token(stack: IsolatedStack, role: str, **scope: Any) -> dict[str, str]:
    principal = Principal(role, subject=f"test-{role}", **scope)  # type: ignore[arg-type]
    return bearer(issue_token(stack.auth_secret, principal))


@pytest.fixture(scope="module")
async def world(infra: Infrastructure) -> AsyncIterator[dict[str, Any]]:
    """Two GP referrals (one closed, one declined) and a community one, recorded as the
    notifier's consumers record them."""
    stack, drop = await own_stack(infra)
    settings = NotifierSettings(
        database_url=stack.database_url,
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
        topic_prefix=stack.topic_prefix,
        auth_secret=stack.auth_secret,
        public_url=PUBLIC_URL,
    )
    app = build_app(settings)
    tracking = app.state.service
    closed, declined, community = (str(uuid.uuid4()) for _ in range(3))
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    try:
        for rid, org, source in ((closed, GP, "fhir"), (declined, GP, "fhir"), (community, CVA, "community")):  # fmt: skip
            request = service_request(rid, org, source=source, referrer_email="gp@nhs.example")
            await tracking.record_request(request, str(uuid.uuid4()))
        tasks = task_versions(closed, GP, STEPS["completed"], source="fhir", start=start)
        tasks += task_versions(declined, GP, STEPS["declined"], source="fhir", start=start)
        tasks += task_versions(community, CVA, STEPS["completed"], start=start)
        for task in tasks:
            await tracking.record_task(task, str(uuid.uuid4()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield {
                "stack": stack,
                "client": client,
                "closed": closed,
                "declined": declined,
                "community": community,
            }
    finally:
        await app.state.engine.dispose()
        await drop()


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def section(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    [composition] = resources(bundle, "Composition")
    [found] = [s for s in composition["section"] if s["code"]["coding"][0]["code"] == code]
    return found


def snomed_codes(resource: dict[str, Any]) -> set[str]:
    return {c["code"] for c in resource["code"]["coding"] if c["system"] == SNOMED}


async def test_the_practice_reads_the_acceptance_with_its_snomed_code(
    world: dict[str, Any], fhir_validator: FhirValidator
) -> None:
    gp = token(world["stack"], "agency", organisation=key(GP))
    answer = await world["client"].get(f"/fhir/Bundle/{world['closed']}-accepted", headers=gp)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    assert (bundle["type"], bundle["id"]) == ("document", f"{world['closed']}-accepted")
    assert bundle["entry"][0]["resource"]["resourceType"] == "Composition"
    [procedure] = resources(bundle, "Procedure")
    assert snomed_codes(procedure) == {"871731000000106"}
    assert section(bundle, "record-entry")["entry"] == [
        {"reference": bundle["entry"][-1]["fullUrl"]}
    ]
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "9434765919"
    assert "support-offered" not in str(resources(bundle, "Composition"))  # not until closure
    assert [i for i in fhir_validator.validate(bundle) if i.is_error] == []


async def test_the_closing_document_codes_support_offered_and_outcomes(
    world: dict[str, Any], fhir_validator: FhirValidator
) -> None:
    gp = token(world["stack"], "agency", organisation=key(GP))
    answer = await world["client"].get(f"/fhir/Bundle/{world['closed']}-closed", headers=gp)
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert "Procedure" not in str([e["resource"]["resourceType"] for e in bundle["entry"]])
    support = resources(bundle, "ServiceRequest")[1:]  # the first is the referral itself
    assert sorted(s["category"][0]["coding"][0]["code"] for s in support) == [
        "attended",
        "referred",
    ]
    assert len(section(bundle, "support-offered")["entry"]) == len(CLOSING_OUTCOMES.support)
    needs = [c["code"] for s in support for r in s["reasonCode"] for c in r["coding"]]
    assert "carer-support" in needs and "money-debt-benefits" in needs
    observations = resources(bundle, "Observation")
    assert len(observations) == len(section(bundle, "outcomes")["entry"]) == 2
    swemwbs = next(o for o in observations if "718466001" in snomed_codes(o))
    assert swemwbs["valueInteger"] == 28
    assert len(resources(bundle, "QuestionnaireResponse")) == 2
    assert CLOSING_OUTCOMES.summary is not None
    assert CLOSING_OUTCOMES.summary not in answer.text  # the worker's words stay in the hub
    assert [i for i in fhir_validator.validate(bundle) if i.is_error] == []


async def test_a_decline_is_filed_with_its_own_code(world: dict[str, Any]) -> None:
    gp = token(world["stack"], "agency", organisation=key(GP))
    client = world["client"]
    answer = await client.get(f"/fhir/Bundle/{world['declined']}-declined", headers=gp)
    assert answer.status_code == 200, answer.text
    [observation] = resources(answer.json(), "Observation")
    assert snomed_codes(observation) == {"871711000000103"}
    # Moments that never came are not there.
    for name in (f"{world['declined']}-closed", f"{world['closed']}-declined"):
        assert (await client.get(f"/fhir/Bundle/{name}", headers=gp)).status_code == 404


async def test_nobody_but_the_referring_practice_reads_it(world: dict[str, Any]) -> None:
    stack, client = world["stack"], world["client"]
    path = f"/fhir/Bundle/{world['closed']}-closed"
    unknown = await client.get(
        f"/fhir/Bundle/{uuid.uuid4()}-closed", headers=token(stack, "agency", organisation=key(GP))
    )
    for org in (OTHER_GP, CVA):
        answer = await client.get(path, headers=token(stack, "agency", organisation=key(org)))
        assert answer.status_code == 404
        assert answer.json() == unknown.json()  # nothing to tell "not yours" from "no such"
    for role, scope in (
        ("coordinator", {"boroughs": ("Croydon",)}),
        ("link_worker", {}),
        ("operator", {}),
    ):
        assert (await client.get(path, headers=token(stack, role, **scope))).status_code == 403
    assert (await client.get(path)).status_code == 401
    # A community referral has no GP practice to file anything: no document, even for its agency.
    cva = token(stack, "agency", organisation=key(CVA))
    for moment in ("accepted", "closed"):
        got = await client.get(f"/fhir/Bundle/{world['community']}-{moment}", headers=cva)
        assert got.status_code == 404
    for name in ("nonsense", f"{world['closed']}-opened", "-closed"):
        got = await client.get(f"/fhir/Bundle/{name}", headers=cva)
        assert got.status_code == 404


async def test_each_read_is_audited_and_the_email_links_to_the_document(
    world: dict[str, Any],
) -> None:
    gp = token(world["stack"], "agency", organisation=key(GP))
    read = await world["client"].get(f"/fhir/Bundle/{world['closed']}-closed", headers=gp)
    assert read.status_code == 200
    engine = create_async_engine(world["stack"].database_url)
    try:
        async with engine.connect() as connection:
            staged = (
                await connection.scalars(
                    select(orm.outbox.c.value).where(
                        orm.outbox.c.topic == world["stack"].topics.audit
                    )
                )
            ).all()
            bodies = (
                await connection.scalars(
                    select(orm.deliveries.c.body).where(
                        orm.deliveries.c.referral_id == world["closed"],
                        orm.deliveries.c.kind == "email",
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    audited = [json.loads(value) for value in staged]
    assert any(
        entry["resourceKind"] == "Bundle" and world["closed"] in str(entry) for entry in audited
    )
    texts = []
    for body in bodies:
        message = email.message_from_bytes(body, policy=default)
        assert isinstance(message, EmailMessage)
        texts.append(message.get_content())
    link = f"{PUBLIC_URL}/fhir/Bundle/{world['closed']}"
    assert sum(f"{link}-accepted" in t for t in texts) == 1
    assert sum(f"{link}-closed" in t for t in texts) == 1
    assert all("871731000000106" in t for t in texts if f"{link}-accepted" in t)
