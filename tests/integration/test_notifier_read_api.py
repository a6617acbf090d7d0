"""The referrers' read API on the real database: an agency reads its own referrals, and
another agency's are not there at all for it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_common.security.auth import Principal, issue_token
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import (
    STEPS,
    organisation,
    own_stack,
    service_request,
    task_versions,
)
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
GP = organisation(ODS_SYSTEM, "H85001")


def key(org: dict[str, str]) -> str:
    return f"{org['system']}|{org['value']}"


def token(stack: IsolatedStack, role: str, **scope: Any) -> dict[str, str]:
    principal = Principal(role, subject=f"test-{role}", **scope)  # type: ignore[arg-type]
    return bearer(issue_token(stack.auth_secret, principal))


@pytest.fixture(scope="module")
async def world(infra: Infrastructure) -> AsyncIterator[dict[str, Any]]:
    """The notifier's app in process, on its own database, after recording a CVA referral in
    Croydon and a GP referral in Sutton (the Kafka path is covered by test_notifier_deliveries)."""
    stack, drop = await own_stack(infra)
    settings = NotifierSettings(
        database_url=stack.database_url,
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
        topic_prefix=stack.topic_prefix,
        auth_secret=stack.auth_secret,
    )
    app = build_app(settings)
    tracking = app.state.service
    cva_id, gp_id = str(uuid.uuid4()), str(uuid.uuid4())
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    try:
        await tracking.record_request(service_request(cva_id, CVA), str(uuid.uuid4()))
        await tracking.record_request(
            service_request(gp_id, GP, source="fhir", postcode="SM1 1AA"), str(uuid.uuid4())
        )
        tasks = task_versions(cva_id, CVA, STEPS["completed"], start=start)
        tasks += task_versions(gp_id, GP, STEPS["cancelled"], source="fhir", start=start)
        for task in tasks:
            await tracking.record_task(task, str(uuid.uuid4()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield {
                "stack": stack,
                "client": client,
                "cva_id": cva_id,
                "gp_id": gp_id,
                "start": start,
            }
    finally:
        await app.state.engine.dispose()
        await drop()


async def test_metadata_is_a_capability_statement_open_to_all(world: dict[str, Any]) -> None:
    answer = await world["client"].get("/fhir/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    assert answer.json()["resourceType"] == "CapabilityStatement"


async def test_an_agency_reads_its_own_referral_and_task(world: dict[str, Any]) -> None:
    client, stack = world["client"], world["stack"]
    cva = token(stack, "agency", organisation=key(CVA))
    request = await client.get(f"/fhir/ServiceRequest/{world['cva_id']}", headers=cva)
    assert request.status_code == 200
    assert request.headers["content-type"].startswith("application/fhir+json")
    assert request.json()["id"] == world["cva_id"]
    task = await client.get(f"/fhir/Task/{world['cva_id']}", headers=cva)
    assert (task.json()["status"], task.json()["meta"]["versionId"]) == ("completed", "6")
    found = await client.get(
        "/fhir/Task", params={"focus": f"ServiceRequest/{world['cva_id']}"}, headers=cva
    )
    bundle = found.json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    assert bundle["entry"][0]["resource"]["id"] == world["cva_id"]


async def test_another_agencys_referral_does_not_exist_for_you(world: dict[str, Any]) -> None:
    client, stack = world["client"], world["stack"]
    gp = token(stack, "agency", organisation=key(GP))
    missing = await client.get(f"/fhir/Task/{uuid.uuid4()}", headers=gp)
    for path in (f"/fhir/ServiceRequest/{world['cva_id']}", f"/fhir/Task/{world['cva_id']}"):
        answer = await client.get(path, headers=gp)
        assert answer.status_code == 404
        if path.startswith("/fhir/Task/"):
            assert answer.json() == missing.json()  # not a hint that it exists
    for params in (
        {"focus": f"ServiceRequest/{world['cva_id']}"},
        {"requester": key(CVA)},
        {"requester:identifier": key(CVA)},
        {},
    ):
        bundle = (await client.get("/fhir/Task", params=params, headers=gp)).json()
        assert world["cva_id"] not in str(bundle.get("entry", []))
    own = (await client.get("/fhir/Task", headers=gp)).json()
    assert [e["resource"]["id"] for e in own["entry"]] == [world["gp_id"]]


async def test_search_by_status_and_last_updated(world: dict[str, Any]) -> None:
    client, stack = world["client"], world["stack"]
    cva = token(stack, "agency", organisation=key(CVA))
    by_status = await client.get(
        "/fhir/Task", params={"requester": key(CVA), "status": "completed,on-hold"}, headers=cva
    )
    assert by_status.json()["total"] == 1
    assert (await client.get("/fhir/Task", params={"status": "in-progress"}, headers=cva)).json()[
        "total"
    ] == 0
    # The current version was last updated 5 s after the start.
    later = (world["start"] + timedelta(seconds=10)).isoformat()
    earlier = (world["start"] + timedelta(seconds=1)).isoformat()
    assert (
        await client.get("/fhir/Task", params={"_lastUpdated": f"gt{earlier}"}, headers=cva)
    ).json()["total"] == 1
    assert (
        await client.get("/fhir/Task", params={"_lastUpdated": f"gt{later}"}, headers=cva)
    ).json()["total"] == 0
    bad = await client.get("/fhir/Task", params={"_lastUpdated": "gtyesterday"}, headers=cva)
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"


async def test_a_coordinator_reads_referrals_of_their_boroughs_only(
    world: dict[str, Any],
) -> None:
    client, stack = world["client"], world["stack"]
    croydon = token(stack, "coordinator", boroughs=("Croydon",))
    assert (await client.get(f"/fhir/Task/{world['cva_id']}", headers=croydon)).status_code == 200
    assert (await client.get(f"/fhir/Task/{world['gp_id']}", headers=croydon)).status_code == 404
    assert (
        await client.get(f"/fhir/ServiceRequest/{world['gp_id']}", headers=croydon)
    ).status_code == 404


async def test_credentials_are_required_and_other_roles_read_nothing(
    world: dict[str, Any],
) -> None:
    client, stack = world["client"], world["stack"]
    assert (await client.get(f"/fhir/Task/{world['cva_id']}")).status_code == 401
    operator = token(stack, "operator")
    assert (await client.get(f"/fhir/Task/{world['cva_id']}", headers=operator)).status_code == 403
    worker = token(stack, "link_worker")
    assert (await client.get("/fhir/Task", headers=worker)).status_code == 403


async def test_count_limits_the_page_but_not_the_total(world: dict[str, Any]) -> None:
    client, stack = world["client"], world["stack"]
    croydon_and_sutton = token(stack, "coordinator", boroughs=("Croydon", "Sutton"))
    page = (await client.get("/fhir/Task", params={"_count": 1}, headers=croydon_and_sutton)).json()
    assert (page["total"], len(page["entry"])) == (2, 1)


async def test_an_agency_reads_the_whole_timeline_of_its_own_task_only(
    world: dict[str, Any],
) -> None:
    client, stack = world["client"], world["stack"]
    cva = token(stack, "agency", organisation=key(CVA))
    history = (await client.get(f"/fhir/Task/{world['cva_id']}/_history", headers=cva)).json()
    assert (history["resourceType"], history["type"], history["total"]) == ("Bundle", "history", 6)
    versions = [entry["resource"]["meta"]["versionId"] for entry in history["entry"]]
    assert versions == ["6", "5", "4", "3", "2", "1"]  # newest first, none missing
    assert history["entry"][0]["resource"]["status"] == "completed"
    gp = token(stack, "agency", organisation=key(GP))
    refused = await client.get(f"/fhir/Task/{world['cva_id']}/_history", headers=gp)
    assert refused.status_code == 404
