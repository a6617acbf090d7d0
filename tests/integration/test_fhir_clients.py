"""A standard FHIR client (fhirpy) against the hub's FHIR APIs over real HTTP, on the real
database: what a new agency's developer would do first, and where a client silently got wrong
answers before (issue 22).

The notifier holds 1,200 Tasks of one agency: fhirpy pages through them to the last page,
finds one by `_id`, sorts, counts, is refused under strict handling, revalidates a read with
its ETag. Intake takes a single create and a transaction as FHIR answers them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError, OperationOutcome

from hub_common.fhir import systems as sys
from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_intake.bootstrap import build_app as build_intake
from hub_intake.config import IntakeSettings
from hub_notifier.bootstrap import build_app as build_notifier
from hub_notifier.config import NotifierSettings
from hub_router.adapters.fhir_task import task_snapshot
from tests.support.credentials import agency_token
from tests.support.fixtures import inbound
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import organisation, own_stack
from tests.support.served_app import free_port, served

pytestmark = pytest.mark.infra

TASKS = 1_200
CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
CVA_KEY = f"{CVA['system']}|{CVA['value']}"
GP_KEY = f"{ODS_SYSTEM}|H85001"
START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def snapshot(referral_id: str, changed: datetime) -> dict[str, Any]:
    return task_snapshot(
        referral_id=referral_id,
        episode_id=f"episode-{referral_id}",
        version=1,
        status="requested",
        business_status="offered",
        owner=None,
        requester={"type": "Organization", "identifier": CVA},
        referrer_identifier={
            "system": sys.referrer_reference_system("community"),
            "value": f"REF-{referral_id[:8]}",
        },
        authored_on="2026-04-01T09:00:00+00:00",
        last_modified=changed,
    )


@pytest.fixture(scope="module")
async def hub(infra: Infrastructure) -> AsyncIterator[dict[str, Any]]:
    """The notifier and intake served over HTTP on their own database; 1,200 Tasks of the
    CVA, four to each instant (a batch routed in one transaction shares its time), so paging
    must break ties by id."""
    stack, drop = await own_stack(infra)
    notifier_port = free_port()
    notifier_url = f"http://127.0.0.1:{notifier_port}"
    notifier = build_notifier(
        NotifierSettings(
            database_url=stack.database_url,
            kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
            topic_prefix=stack.topic_prefix,
            auth_secret=stack.auth_secret,
            public_url=notifier_url,
        )
    )
    intake = build_intake(
        IntakeSettings(
            database_url=stack.database_url,
            kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
            topic_prefix=stack.topic_prefix,
            auth_secret=stack.auth_secret,
            notifier_url=notifier_url,
        )
    )
    tasks = [snapshot(str(uuid.uuid4()), START + timedelta(seconds=n // 4)) for n in range(TASKS)]
    try:
        for first in range(0, TASKS, 200):
            await notifier.state.service.record_tasks(
                [(task, str(uuid.uuid4()), None) for task in tasks[first : first + 200]]
            )
        ordered = [
            t["id"] for t in sorted(tasks, key=lambda t: (t["meta"]["lastUpdated"], t["id"]))
        ]
        async with served(notifier, notifier_port) as notifier_base, served(intake) as intake_base:
            token = agency_token(stack, organisation=CVA_KEY)
            yield {
                "stack": stack,
                "notifier": notifier_base,
                "intake": intake_base,
                "token": token,
                "ordered": ordered,
                "tracking": notifier.state.service,
                "reads": AsyncFHIRClient(f"{notifier_base}/fhir", authorization=f"Bearer {token}"),
            }
    finally:
        await notifier.state.engine.dispose()
        await intake.state.engine.dispose()
        await drop()


def link(bundle: dict[str, Any], relation: str) -> str:
    """The Bundle's link of that relation, or "" when it has none."""
    return next((x["url"] for x in bundle.get("link", []) if x["relation"] == relation), "")


async def test_fetch_all_pages_to_the_last_of_1200_tasks(hub: dict[str, Any]) -> None:
    client: AsyncFHIRClient = hub["reads"]
    fetched = await client.resources("Task").limit(100).fetch_all()
    assert [task["id"] for task in fetched] == hub["ordered"]  # all, in order, none twice
    first = await client.resources("Task").limit(100).fetch_raw()
    assert first["total"] == TASKS and len(first["entry"]) == 100
    assert link(first, "next") and not link(first, "previous")


async def test_next_and_previous_links_walk_back_and_forth(hub: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {hub['token']}"}
    async with httpx.AsyncClient(headers=headers) as http:
        page1 = (await http.get(f"{hub['notifier']}/fhir/Task", params={"_count": 7})).json()
        page2 = (await http.get(link(page1, "next"))).json()
        back = (await http.get(link(page2, "previous"))).json()
        ids = [[e["resource"]["id"] for e in page["entry"]] for page in (page1, page2, back)]
        assert ids[0] == hub["ordered"][:7] and ids[1] == hub["ordered"][7:14]
        assert ids[2] == ids[0]
        # The last page has no next.
        last = (await http.get(f"{hub['notifier']}/fhir/Task", params={"_count": 500})).json()
        while link(last, "next"):
            last = (await http.get(link(last, "next"))).json()
        assert last["entry"][-1]["resource"]["id"] == hub["ordered"][-1]


async def test_count_is_capped_not_refused(hub: dict[str, Any]) -> None:
    page = await hub["reads"].resources("Task").limit(5000).fetch_raw()
    assert len(page["entry"]) == 500
    assert "_count=500" in link(page, "self") and link(page, "next")


async def test_id_sort_and_summary_count(hub: dict[str, Any]) -> None:
    client: AsyncFHIRClient = hub["reads"]
    wanted = hub["ordered"][123]
    found = await client.resources("Task").search(_id=wanted).fetch()
    assert [task["id"] for task in found] == [wanted]
    pair = await client.resources("Task").search(_id=f"{wanted},{hub['ordered'][5]}").fetch()
    assert {task["id"] for task in pair} == {wanted, hub["ordered"][5]}
    newest = await client.resources("Task").sort("-_lastUpdated").limit(8).fetch()
    assert [task["id"] for task in newest] == hub["ordered"][::-1][:8]
    assert await client.resources("Task").count() == TASKS
    counted = await client.resources("Task").search(_summary="count").fetch_raw()
    assert counted["total"] == TASKS and "entry" not in counted
    subset = await client.resources("Task").elements("status").limit(2).fetch_raw()
    task = subset["entry"][0]["resource"]
    assert set(task) == {"resourceType", "id", "meta", "status", "intent"}  # intent: mandatory
    assert task["meta"]["tag"][-1]["code"] == "SUBSETTED"


async def test_unknown_parameters_are_ignored_visibly_or_refused_under_strict(
    hub: dict[str, Any],
) -> None:
    client: AsyncFHIRClient = hub["reads"]
    lenient = await client.resources("Task").search(bogus="x").limit(3).fetch_raw()
    assert lenient["total"] == TASKS
    assert "bogus" not in link(lenient, "self")  # self lists only what was applied
    strict = AsyncFHIRClient(
        f"{hub['notifier']}/fhir",
        authorization=f"Bearer {hub['token']}",
        extra_headers={"Prefer": "handling=strict"},
    )
    with pytest.raises(OperationOutcome) as refused:
        await strict.resources("Task").search(bogus="x").fetch()
    assert refused.value.resource["issue"][0]["expression"] == ["bogus"]
    with pytest.raises(OperationOutcome):
        await strict.resources("Task").sort("status").fetch()
    assert len(await strict.resources("Task").search(_id=hub["ordered"][0]).fetch()) == 1


async def test_a_read_carries_its_etag_and_revalidates_with_304(hub: dict[str, Any]) -> None:
    client: AsyncFHIRClient = hub["reads"]
    task_id = hub["ordered"][0]
    task = await client.reference("Task", task_id).to_resource()
    assert task["meta"]["versionId"] == "1"
    await task.refresh()  # fhirpy sends If-None-Match with the version it holds
    assert task["id"] == task_id
    headers = {"Authorization": f"Bearer {hub['token']}"}
    async with httpx.AsyncClient(headers=headers) as http:
        url = f"{hub['notifier']}/fhir/Task/{task_id}"
        read = await http.get(url)
        assert read.headers["etag"] == 'W/"1"' and read.headers["last-modified"]
        assert (await http.get(url, headers={"If-None-Match": 'W/"1"'})).status_code == 304
        assert (await http.get(url, headers={"If-None-Match": 'W/"0"'})).status_code == 200


async def test_errors_are_operation_outcomes_and_xml_is_406(hub: dict[str, Any]) -> None:
    with pytest.raises(AuthorizationError):
        await AsyncFHIRClient(f"{hub['notifier']}/fhir").resources("Task").fetch()
    headers = {"Authorization": f"Bearer {hub['token']}"}
    async with httpx.AsyncClient() as http:
        tasks = f"{hub['notifier']}/fhir/Task"
        answers = {
            "no credentials": (await http.get(tasks), 401),
            "bad _count": (await http.get(tasks, params={"_count": "x"}, headers=headers), 400),
            "bad _page": (await http.get(tasks, params={"_page": "x"}, headers=headers), 400),
            "xml accept": (
                await http.get(tasks, headers={**headers, "Accept": "application/fhir+xml"}),
                406,
            ),
            "xml _format": (await http.get(tasks, params={"_format": "xml"}, headers=headers), 406),
        }
        for what, (answer, code) in answers.items():
            assert answer.status_code == code, what
            assert answer.headers["content-type"].startswith("application/fhir+json"), what
            assert answer.json()["resourceType"] == "OperationOutcome", what
        assert answers["no credentials"][0].headers["www-authenticate"] == "Bearer"


async def test_the_capability_statement_says_what_the_routes_do(hub: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as http:
        statement = (await http.get(f"{hub['notifier']}/fhir/metadata")).json()
    [task] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Task"]
    assert {"code": "history-instance"} in task["interaction"]
    params = {p["name"]: p["type"] for p in task["searchParam"]}
    assert params["requester"] == "token" and params["_id"] == "token"
    assert {"_sort", "_summary", "_elements", "_count"} <= set(params)


def lone_service_request(reference: str) -> dict[str, Any]:
    """The GP example as one ServiceRequest carrying its Patient, requester and Consent."""
    bundle = json.loads(inbound("gp-servicerequest-bundle.json"))
    by_kind = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    request = by_kind["ServiceRequest"]
    request["identifier"][0]["value"] = reference
    request.update(
        contained=[
            {**by_kind[kind], "id": local}
            for kind, local in (("Patient", "pat"), ("PractitionerRole", "role"), ("Consent", "ok"))
        ],
        subject={"reference": "#pat"},
        requester={"reference": "#role"},
        supportingInfo=[{"reference": "#ok"}],
    )
    return request


def writer(hub: dict[str, Any]) -> AsyncFHIRClient:
    token = agency_token(hub["stack"], organisation=GP_KEY, sources=("fhir",))
    return AsyncFHIRClient(f"{hub['intake']}/fhir", authorization=f"Bearer {token}")


async def test_a_single_create_answers_201_with_location_and_the_resource(
    hub: dict[str, Any],
) -> None:
    document = lone_service_request(f"FHIRPY-{uuid.uuid4().hex[:8]}")
    created = writer(hub).resource("ServiceRequest", **document)
    await created.save()
    assert created["id"] and created["resourceType"] == "ServiceRequest"  # save() holds an id
    token = agency_token(hub["stack"], organisation=GP_KEY, sources=("fhir",))
    async with httpx.AsyncClient() as http:
        again = await http.post(
            f"{hub['intake']}/fhir/ServiceRequest",
            json=document,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert again.status_code == 200  # a resend: the same referral
    assert again.headers["location"] == f"{hub['notifier']}/fhir/ServiceRequest/{created['id']}"
    assert again.json()["id"] == created["id"]


async def test_a_transaction_answers_a_transaction_response(hub: dict[str, Any]) -> None:
    bundle = json.loads(inbound("gp-servicerequest-bundle.json"))
    request = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    request["resource"]["identifier"][0]["value"] = f"FHIRPY-TX-{uuid.uuid4().hex[:8]}"
    answer = await writer(hub).execute("", method="post", data=bundle)
    assert answer["resourceType"] == "Bundle" and answer["type"] == "transaction-response"
    assert len(answer["entry"]) == len(bundle["entry"])
    first = answer["entry"][0]
    assert first["response"]["status"] == "201 Created"
    assert first["response"]["location"].startswith(f"{hub['notifier']}/fhir/ServiceRequest/")
    assert first["resource"]["resourceType"] == "ServiceRequest"
    refused = json.loads(json.dumps(bundle))
    refused["entry"] = [e for e in refused["entry"] if e["resource"]["resourceType"] != "Consent"]
    with pytest.raises(OperationOutcome):
        await writer(hub).execute("", method="post", data=refused)


async def test_pages_stay_put_while_tasks_are_added(hub: dict[str, Any]) -> None:
    """Last in the module: it adds a Task older than every other (a late event)."""
    headers = {"Authorization": f"Bearer {hub['token']}"}
    async with httpx.AsyncClient(headers=headers) as http:
        page1 = (await http.get(f"{hub['notifier']}/fhir/Task", params={"_count": 50})).json()
        late = snapshot(str(uuid.uuid4()), START - timedelta(days=1))
        await hub["tracking"].record_tasks([(late, str(uuid.uuid4()), None)])
        page2 = (await http.get(link(page1, "next"))).json()
    assert [e["resource"]["id"] for e in page2["entry"]] == hub["ordered"][50:100]
    assert page2["total"] == TASKS + 1
