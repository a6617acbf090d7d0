"""The link worker and coordinator HTTP API of the router, running with its real lifespan (Kafka
consumers, outbox relay, offer sweeper) on real PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub_common.fhir.task_outputs import SupportKind, read_outputs
from hub_common.fhir.wellbeing import Instrument, Timepoint
from hub_common.security.auth import Principal, issue_token
from hub_router.bootstrap import build_app
from hub_router.config import RouterSettings
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.service_layer.routing import RoutingService
from tests.support.credentials import agency_token, bearer
from tests.support.infra import Infrastructure
from tests.support.kafka_io import collect
from tests.support.referrals import service_request
from tests.support.router_support import add_workers, own_stack
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

TEST_VA = "https://referral-hub.org/fhir/Id/agency|community:test-voluntary-action"
POLICE = "https://referral-hub.org/fhir/Id/agency|police:metropolitan-police-service"

CROYDON_WORKER = LinkWorker(
    "lw-a",
    boroughs=frozenset({"Croydon"}),
    postcode_districts=frozenset({"CR7"}),
    working_days=frozenset(WEEKDAYS),
)


@pytest.fixture(scope="module")
async def api(
    infra: Infrastructure,
) -> AsyncIterator[tuple[IsolatedStack, FastAPI, httpx.AsyncClient]]:
    async with own_stack(infra) as stack:
        settings = RouterSettings(
            kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
            database_url=stack.database_url,
            topic_prefix=stack.topic_prefix,
            auth_secret=stack.auth_secret,
        )
        app = build_app(settings)
        async with app.router.lifespan_context(app):
            service: RoutingService = app.state.service
            await add_workers(
                service,
                CROYDON_WORKER,
                replace(CROYDON_WORKER, worker_id="lw-b", max_caseload=30),
                replace(CROYDON_WORKER, worker_id="lw-full", max_caseload=1, max_new_per_day=1),
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                yield stack, app, client


def token(
    stack: IsolatedStack, role: str, subject: str, boroughs: tuple[str, ...] = ()
) -> dict[str, str]:
    principal = Principal(role, subject=subject, boroughs=boroughs)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issue_token(stack.auth_secret, principal)}"}


async def route(app: FastAPI, referral_id: str, **request: Any) -> str | None:
    service: RoutingService = app.state.service
    return await service.route(
        service_request(referral_id, **request), f"event-{referral_id}", None
    )


async def test_credentials_and_roles_are_checked(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, _, client = api
    assert (await client.get("/fhir/Task")).status_code == 401
    agency = bearer(agency_token(stack))
    assert (await client.get("/fhir/Task", headers=agency)).status_code == 403
    worker = token(stack, "link_worker", "lw-a")
    assert (await client.get("/coordination/waiting", headers=worker)).status_code == 403
    assert (await client.get("/coordination/workers", headers=worker)).status_code == 403
    assert (
        await client.post("/fhir/Task/x/$assign", json={"worker": "lw-a"}, headers=worker)
    ).status_code == 403


async def test_a_worker_sees_answers_and_progresses_only_their_own_tasks(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    a, b = token(stack, "link_worker", "lw-a"), token(stack, "link_worker", "lw-b")
    assert await route(app, "h1") == "lw-a"

    found = (
        await client.get("/fhir/Task", params={"owner": "PractitionerRole/lw-a"}, headers=a)
    ).json()
    assert found["resourceType"] == "Bundle" and [e["resource"]["id"] for e in found["entry"]] == [
        "h1"
    ]
    assert (
        await client.get("/fhir/Task", params={"owner": "PractitionerRole/lw-a"}, headers=b)
    ).json()["total"] == 0
    assert (await client.get("/fhir/Task/h1", headers=b)).status_code == 404
    refused = await client.post("/fhir/Task/h1/$accept", headers=b)
    assert refused.status_code == 404 and refused.json()["resourceType"] == "OperationOutcome"

    accepted = await client.post("/fhir/Task/h1/$accept", headers=a)
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["etag"] == 'W/"2"'
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["businessStatus"]["coding"][0]["code"] == "allocated"

    bad = await client.post("/fhir/Task/h1/$update-status", json={"status": "requested"}, headers=a)
    assert bad.status_code == 409
    assert "cannot move from accepted to requested" in bad.json()["issue"][0]["diagnostics"]
    unknown = await client.post(
        "/fhir/Task/h1/$update-status", json={"status": "finished"}, headers=a
    )
    assert unknown.status_code == 422

    first = {
        "instrument": "ons4",
        "when": "first-contact",
        "takenAt": "2026-11-23T10:15:00+00:00",
        "answers": {"satisfied": 4, "worthwhile": 5, "happy": 3, "anxious": 7},
    }
    closing = {
        "instrument": "swemwbs",
        "when": "closure",
        "takenAt": "2027-01-10T09:00:00+00:00",
        "answers": {
            "optimistic": 4,
            "useful": 4,
            "relaxed": 3,
            "problems": 4,
            "clearly": 4,
            "close": 3,
            "own-mind": 5,
        },
    }
    lunch_club = {
        "need": "loneliness-isolation",
        "kind": "attended",
        "service": "Thornton Heath lunch club",
        "serviceId": "hs-42",
    }
    wrong = {**first, "answers": {**first["answers"], "anxious": 11}}  # type: ignore[dict-item]
    refused = await client.post(
        "/fhir/Task/h1/$update-status",
        json={"businessStatus": "contact-attempted", "outputs": {"measures": [wrong]}},
        headers=a,
    )
    assert refused.status_code == 422
    assert "answers.anxious" in refused.text and "from 0 to 10" in refused.text

    steps = [
        {
            "status": "in-progress",
            "businessStatus": "first-contact-made",
            "outputs": {"measures": [first]},
        },
        {"status": "on-hold", "reason": "person away"},
        {"status": "in-progress"},
        {
            "status": "completed",
            "businessStatus": "connected-to-services",
            "outputs": {
                "outcome": "joined a group",
                "measures": [first, closing],
                "supportOffered": [lunch_club],
            },
        },
    ]
    for body in steps:
        answer = await client.post("/fhir/Task/h1/$update-status", json=body, headers=a)
        assert answer.status_code == 200, answer.text
    done = (await client.get("/fhir/Task/h1", headers=a)).json()
    assert (done["status"], done["meta"]["versionId"]) == ("completed", "6")
    outcomes = read_outputs(done)
    assert outcomes.summary == "joined a group"
    swemwbs = outcomes.measure(Instrument.SWEMWBS, Timepoint.CLOSURE)
    assert swemwbs is not None and (swemwbs.raw_total, swemwbs.metric_score) == (27, 24.11)
    assert outcomes.measure(Instrument.ONS4, Timepoint.FIRST_CONTACT) is not None
    [support] = outcomes.support
    assert (support.kind, support.service, support.service_id) == (
        SupportKind.ATTENDED,
        "Thornton Heath lunch club",
        "hs-42",
    )
    assert {r["resourceType"] for r in done["contained"]} == {
        "QuestionnaireResponse",
        "Observation",
        "ServiceRequest",
    }

    # Every change reached Kafka, in order, one version at a time.
    seen = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        lambda values: sum(v["id"] == "h1" for v in values) >= 6,
    )
    assert [v["meta"]["versionId"] for v in seen if v["id"] == "h1"] == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
    ]


async def test_a_decline_moves_the_task_out_of_sight(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    a, b = token(stack, "link_worker", "lw-a"), token(stack, "link_worker", "lw-b")
    assert await route(app, "h2") == "lw-a"
    assert (await client.post("/fhir/Task/h2/$decline", json={}, headers=a)).status_code == 422
    declined = await client.post(
        "/fhir/Task/h2/$decline", json={"reason": "not my patch really"}, headers=a
    )
    assert declined.status_code == 200, declined.text
    assert (await client.get("/fhir/Task/h2", headers=a)).status_code == 404
    offered = (await client.get("/fhir/Task/h2", headers=b)).json()
    assert offered["owner"]["reference"] == "PractitionerRole/lw-b"
    assert offered["meta"]["versionId"] == "2"


async def test_a_coordinator_sees_why_a_referral_waits_and_assigns_it(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    croydon = token(stack, "coordinator", "coord-croydon", ("Croydon",))
    sutton = token(stack, "coordinator", "coord-sutton", ("Sutton",))
    assert await route(app, "h3", risk="high") is None  # nobody is cleared for risky visits

    waiting = (await client.get("/coordination/waiting", headers=croydon)).json()["referrals"]
    [item] = [w for w in waiting if w["referralId"] == "h3"]
    assert item["riskFlagged"] and item["decision"]["why"] == "no-eligible-worker"
    assert item["decision"]["excluded"]["lw-a"] == "not cleared for visits flagged as risky"
    # Whom the coordinator may choose: by name, with load, and why not (nobody is cleared).
    candidates = {c["id"]: c for c in item["candidates"]}
    assert {"lw-a", "lw-b", "lw-full"} <= candidates.keys()
    assert candidates["lw-a"]["name"] == "Worker lw-a"
    assert candidates["lw-a"]["eligible"] is False
    assert candidates["lw-a"]["reason"] == "not cleared for visits flagged as risky"
    assert candidates["lw-b"]["maxCaseload"] == 30 and candidates["lw-b"]["setAside"] == []
    assert item["workerNames"]["lw-a"] == "Worker lw-a"
    workers = (await client.get("/coordination/workers", headers=croydon)).json()["workers"]
    by_id = {w["id"]: w for w in workers}
    assert by_id["lw-b"]["name"] == "Worker lw-b" and by_id["lw-b"]["maxCaseload"] == 30
    assert by_id["lw-a"]["workingToday"] is True and by_id["lw-a"]["riskCleared"] is False
    assert (await client.get("/coordination/workers", headers=sutton)).json()["workers"] == []
    assert (await client.get("/coordination/waiting", headers=sutton)).json()["referrals"] == []
    assert (await client.get("/fhir/Task/h3", headers=croydon)).status_code == 200
    assert (await client.get("/fhir/Task/h3", headers=sutton)).status_code == 404

    refused = await client.post("/fhir/Task/h3/$assign", json={"worker": "lw-a"}, headers=croydon)
    assert refused.status_code == 409 and "not cleared" in refused.text
    service: RoutingService = app.state.service
    await add_workers(
        service, replace(CROYDON_WORKER, worker_id="lw-cleared", risk_cleared=True, max_caseload=5)
    )
    assert (
        await client.post("/fhir/Task/h3/$assign", json={"worker": "lw-cleared"}, headers=sutton)
    ).status_code == 404
    assigned = await client.post(
        "/fhir/Task/h3/$assign", json={"worker": "lw-cleared"}, headers=croydon
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["owner"]["reference"] == "PractitionerRole/lw-cleared"
    rebalanced = await client.post("/coordination/$rebalance", headers=croydon)
    assert rebalanced.status_code == 200 and rebalanced.json() == {"offered": {}}  # none waiting
    worker = token(stack, "link_worker", "lw-a")
    assert (await client.post("/coordination/$rebalance", headers=worker)).status_code == 403
    cleared = token(stack, "link_worker", "lw-cleared")
    assert (await client.post("/fhir/Task/h3/$accept", headers=cleared)).json()[
        "status"
    ] == "accepted"

    alerts = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.alerts,
        lambda values: any(v["referralId"] == "h3" for v in values),
    )
    assert {
        "referralId": "h3",
        "why": "no-eligible-worker",
        "borough": "Croydon",
    }.items() <= alerts[0].items()


async def test_the_referrer_withdraws_its_own_referral_and_no_one_elses(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    worker = token(stack, "link_worker", "lw-b")
    ours = bearer(agency_token(stack, organisation=TEST_VA))
    theirs = bearer(agency_token(stack, organisation=POLICE, sources=("police",)))
    assert await route(app, "h-cancel") is not None
    owner = (
        await client.get(
            "/fhir/Task/h-cancel", headers=token(stack, "coordinator", "c", ("Croydon",))
        )
    ).json()["owner"]["reference"]
    holder = token(stack, "link_worker", owner.removeprefix("PractitionerRole/"))
    assert (await client.post("/fhir/Task/h-cancel/$accept", headers=holder)).status_code == 200
    assert (
        await client.post(
            "/fhir/Task/h-cancel/$update-status",
            json={"status": "in-progress", "businessStatus": "first-contact-made"},
            headers=holder,
        )
    ).status_code == 200

    path = "/fhir/Task/h-cancel/$cancel"
    assert (await client.post(path, json={"reason": "x"}, headers=theirs)).status_code == 404
    assert (await client.post(path, json={"reason": "x"}, headers=worker)).status_code == 403
    assert (await client.post(path, json={}, headers=ours)).status_code == 422
    cancelled = await client.post(path, json={"reason": "the person moved away"}, headers=ours)
    assert cancelled.status_code == 200, cancelled.text
    task = cancelled.json()
    assert (task["status"], task["statusReason"]["text"]) == ("cancelled", "the person moved away")
    assert task["businessStatus"]["coding"][0]["code"] == "first-contact-made"
    assert "output" not in task and "contained" not in task
    again = await client.post(path, json={"reason": "again"}, headers=ours)
    assert again.status_code == 409 and "cannot move from cancelled" in again.text
    # Out of the worker's caseload: the open Tasks they hold no longer include it.
    held = (await client.get("/fhir/Task", params={"status": "in-progress"}, headers=holder)).json()
    assert "h-cancel" not in [e["resource"]["id"] for e in held.get("entry", [])]
    seen = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        lambda values: any(v["id"] == "h-cancel" and v["status"] == "cancelled" for v in values),
    )
    assert [v["status"] for v in seen if v["id"] == "h-cancel"][-1] == "cancelled"


async def test_the_holder_records_a_versioned_care_plan_coordinators_read_it(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    croydon = token(stack, "coordinator", "coord-croydon", ("Croydon",))
    assert await route(app, "h-plan") is not None
    owner = (await client.get("/fhir/Task/h-plan", headers=croydon)).json()["owner"]["reference"]
    holder_id = owner.removeprefix("PractitionerRole/")
    holder = token(stack, "link_worker", holder_id)
    other = token(stack, "link_worker", "lw-full" if holder_id != "lw-full" else "lw-b")
    path = "/fhir/Task/h-plan/$care-plan"
    plan = {
        "whatMatters": "Seeing people again",
        "goals": [{"description": "Lunch club weekly", "need": "loneliness-isolation"}],
        "actions": [{"description": "Phone the club", "by": "person", "due": "2026-12-10"}],
    }
    offered = await client.post(path, json=plan, headers=holder)
    assert offered.status_code == 409 and "accepted, in progress or on hold" in offered.text
    assert (await client.post("/fhir/Task/h-plan/$accept", headers=holder)).status_code == 200
    assert (await client.get("/fhir/CarePlan/h-plan", headers=holder)).status_code == 404

    first = await client.post(path, json=plan, headers=holder)
    assert first.status_code == 201, first.text
    assert (first.json()["resourceType"], first.headers["etag"]) == ("CarePlan", 'W/"1"')
    assert (await client.post(path, json=plan, headers=other)).status_code == 404
    bad = await client.post(path, json={**plan, "goals": [{"description": " "}]}, headers=holder)
    assert bad.status_code == 422 and "goals[0].description" in bad.text

    changed = {**plan, "whatMatters": "Seeing people, and the garden"}
    second = await client.post(path, json=changed, headers={**holder, "If-Match": 'W/"1"'})
    assert second.status_code == 200 and second.headers["etag"] == 'W/"2"'
    stale = await client.post(path, json=plan, headers={**holder, "If-Match": 'W/"1"'})
    assert stale.status_code == 409 and "version 2, not 1" in stale.text

    read = (await client.get("/fhir/CarePlan/h-plan", headers=croydon)).json()
    assert (read["description"], read["meta"]["versionId"]) == (
        "Seeing people, and the garden",
        "2",
    )
    sutton = token(stack, "coordinator", "coord-sutton", ("Sutton",))
    assert (await client.get("/fhir/CarePlan/h-plan", headers=sutton)).status_code == 404
    assert (await client.get("/fhir/CarePlan/h-plan", headers=other)).status_code == 404
    history = (await client.get("/fhir/CarePlan/h-plan/_history", headers=holder)).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert history["entry"][1]["resource"]["description"] == "Seeing people again"
    agency = bearer(agency_token(stack, organisation=TEST_VA))
    assert (await client.get("/fhir/CarePlan/h-plan", headers=agency)).status_code == 403
