"""Finding the right service, and live capacity, on the real stack: the demo directory goes
through `directory import` onto Kafka, the router keeps its read model from the topic, and a
link worker searches it over HTTP for a referral (by need and distance, free text, days,
capacity); an organisation sets its capacity, and accepting takes a place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from hub_cli.directory.importer import publish, run_import
from hub_common.region.district_centroids import centroid_of, distance_km
from hub_common.security.auth import Principal, issue_token
from hub_common.settings import InfraSettings
from hub_router.adapters import directory_store, orm
from hub_router.bootstrap import build_app
from hub_router.config import RouterSettings
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.service_layer.routing import RoutingService
from tests.support.infra import Infrastructure
from tests.support.referrals import service_request
from tests.support.router_support import add_workers, own_stack
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "swl-services.oruk.json"
CAPACITY = "https://referral-hub.org/fhir/StructureDefinition/service-capacity"
REASON = "https://referral-hub.org/fhir/StructureDefinition/match-reason"
DISTANCE = "http://hl7.org/fhir/StructureDefinition/location-distance"
WORKER = LinkWorker(
    "lw-dir",
    boroughs=frozenset({"Croydon"}),
    postcode_districts=frozenset({"CR7"}),
    working_days=frozenset(WEEKDAYS),
)


async def count_services(app: FastAPI) -> int:
    async with app.state.directory._sessions() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(orm.directory_services))
            ).scalar_one()
        )


async def wait_for(app: FastAPI, count: int, within: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while (seen := await count_services(app)) != count:
        assert asyncio.get_running_loop().time() < deadline, f"{seen} services, not {count}"
        await asyncio.sleep(0.3)


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
            plan = await run_import(
                InfraSettings(
                    kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
                    topic_prefix=stack.topic_prefix,
                ),
                str(DEMO),
                show_progress=False,
            )
            assert len(plan.added) == 390
            await wait_for(app, 390)
            service: RoutingService = app.state.service
            await add_workers(service, WORKER)
            routed = await service.route(
                service_request("dir-1", postcode="CR7 8AB"), "event-dir-1", None
            )
            assert routed == "lw-dir"
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                yield stack, app, client


def token(stack: IsolatedStack, role: str, subject: str, **claims: Any) -> dict[str, str]:
    principal = Principal(role, subject=subject, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issue_token(stack.auth_secret, principal)}"}


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def reasons(entry: dict[str, Any]) -> list[str]:
    return [e["valueString"] for e in entry["search"].get("extension", []) if e["url"] == REASON]


def km(entry: dict[str, Any]) -> float:
    [found] = [e for e in entry["search"]["extension"] if e["url"] == DISTANCE]
    return float(found["valueDistance"]["value"])


def capacity(resource: dict[str, Any]) -> dict[str, Any]:
    [found] = [e for e in resource["extension"] if e["url"] == CAPACITY]
    return {
        part["url"]: next(v for k, v in part.items() if k != "url") for part in found["extension"]
    }


async def test_a_worker_finds_services_for_a_referral_by_need_and_distance(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, _, client = api
    worker = token(stack, "link_worker", "lw-dir")
    answer = await client.get(
        "/fhir/HealthcareService",
        params={"referral": "dir-1", "category": "food-insecurity", "distance": 5},
        headers=worker,
    )
    assert answer.status_code == 200, answer.text
    found = matches(answer.json())
    assert found, "no food services within 5 km of CR7"
    distances = [km(e) for e in found]
    assert distances == sorted(distances) and distances[-1] <= 5
    for entry in found:
        service = entry["resource"]
        codes = {c["code"] for cat in service["category"] for c in cat["coding"]}
        assert "food-insecurity" in codes
        said = reasons(entry)
        assert said[0] == "Meets the need: Food insecurity" or said[0].startswith("Meets the need")
        assert any(r.endswith("from the centre of CR7") for r in said)
        assert capacity(service)["availability"] == "unknown"
    # The nearest really is nearest: measured from the district's centre to each location.
    included = {
        f"Location/{e['resource']['id']}": e["resource"]
        for e in answer.json()["entry"]
        if e["resource"]["resourceType"] == "Location"
    }
    centre = centroid_of("CR7")
    assert centre is not None
    first = found[0]["resource"]
    nearest = min(
        distance_km(centre, (p["position"]["latitude"], p["position"]["longitude"]))
        for p in (included[ref["reference"]] for ref in first["location"])
    )
    assert abs(nearest - km(found[0])) < 0.01
    # Wider radius finds more; another worker may not use this referral.
    wider = matches(
        (
            await client.get(
                "/fhir/HealthcareService",
                params={"referral": "dir-1", "category": "food-insecurity", "distance": 30},
                headers=worker,
            )
        ).json()
    )
    assert len(wider) > len(found)
    full_page = (
        await client.get("/fhir/HealthcareService", params={"_count": 3}, headers=worker)
    ).json()
    assert len(matches(full_page)) == 3 and "total" not in full_page, "a count it never made"
    other = await client.get(
        "/fhir/HealthcareService",
        params={"referral": "dir-1"},
        headers=token(stack, "link_worker", "lw-someone-else"),
    )
    assert other.status_code == 404


async def test_free_text_days_age_and_price(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, _, client = api
    worker = token(stack, "link_worker", "lw-dir")
    text = matches(
        (
            await client.get(
                "/fhir/HealthcareService", params={"_text": "befriending"}, headers=worker
            )
        ).json()
    )
    assert text and all(
        "befriend" in (e["resource"]["name"] + e["resource"].get("comment", "")).lower()
        for e in text
    )
    assert all("score" in e["search"] for e in text)
    none = await client.get(
        "/fhir/HealthcareService", params={"_text": "zzzqqq nothing"}, headers=worker
    )
    assert none.json()["total"] == 0 and "entry" not in none.json()

    saturday = matches(
        (
            await client.get(
                "/fhir/HealthcareService",
                params={"open-on": "sat", "free": "true", "age": 70, "_count": 200},
                headers=worker,
            )
        ).json()
    )
    assert saturday
    for entry in saturday:
        service = entry["resource"]
        assert any("sat" in t.get("daysOfWeek", []) for t in service["availableTime"])
        assert service["characteristic"][0]["coding"][0]["code"] == "free"
        assert "Open on Saturday" in reasons(entry) and "Free of charge" in reasons(entry)
        for ext in service["extension"]:
            if ext["url"].endswith("/eligible-age"):
                age = ext["valueRange"]
                assert (
                    age.get("low", {}).get("value", 0)
                    <= 70
                    <= age.get("high", {}).get("value", 200)
                )
    both = matches(
        (
            await client.get(
                "/fhir/HealthcareService",
                params={"category": "bereavement,hoarding", "_count": 200},
                headers=worker,
            )
        ).json()
    )
    codes = [{c["code"] for cat in e["resource"]["category"] for c in cat["coding"]} for e in both]
    assert all(c & {"bereavement", "hoarding"} for c in codes)
    assert any("bereavement" in c for c in codes) and any("hoarding" in c for c in codes)
    bad_need = await client.get(
        "/fhir/HealthcareService", params={"category": "sadness"}, headers=worker
    )
    assert bad_need.status_code == 422
    assert bad_need.json()["issue"][0]["expression"] == ["category"]
    bad_day = await client.get(
        "/fhir/HealthcareService", params={"open-on": "funday"}, headers=worker
    )
    assert bad_day.status_code == 422 and bad_day.json()["issue"][0]["expression"] == ["open-on"]
    unknown = await client.get(
        "/fhir/HealthcareService", params={"near": "ZZ9", "distance": 2}, headers=worker
    )
    assert unknown.status_code == 422 and "ZZ9" in unknown.text


async def test_an_organisation_sets_capacity_search_shows_it_and_accepting_takes_a_place(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    worker = token(stack, "link_worker", "lw-dir")
    records = json.loads(DEMO.read_text())
    chosen = next(r for r in records if "Food Bank" in r["name"])
    other = next(r for r in records if r["organization"]["id"] != chosen["organization"]["id"])
    organisation = token(stack, "organisation", "org-user", organisation=chosen["organization_id"])

    refused = await client.post(
        f"/fhir/HealthcareService/{other['id']}/$capacity",
        json={"capacity": "places", "placesAvailable": 3},
        headers=organisation,
    )
    assert refused.status_code == 404, "an organisation set another's capacity"
    assert (
        await client.post(
            f"/fhir/HealthcareService/{chosen['id']}/$capacity",
            json={"capacity": "places", "placesAvailable": 3},
            headers=worker,
        )
    ).status_code == 403
    missing = await client.post(
        f"/fhir/HealthcareService/{chosen['id']}/$capacity",
        json={"capacity": "places"},
        headers=organisation,
    )
    assert missing.status_code == 422
    assert missing.json()["issue"][0]["expression"] == ["placesAvailable"]

    set_ = await client.post(
        f"/fhir/HealthcareService/{chosen['id']}/$capacity",
        json={"capacity": "places", "placesAvailable": 1},
        headers=organisation,
    )
    assert set_.status_code == 200, set_.text
    assert capacity(set_.json())["availability"] == "available"
    assert capacity(set_.json())["placesAvailable"] == 1

    available = matches(
        (
            await client.get(
                "/fhir/HealthcareService", params={"capacity": "available"}, headers=worker
            )
        ).json()
    )
    assert [e["resource"]["id"] for e in available] == [chosen["id"]]
    assert reasons(available[0]) == ["1 place available"]

    async with app.state.directory._sessions.begin() as session:
        assert await directory_store.take_place(session, chosen["id"]) == 0
        assert await directory_store.take_place(session, chosen["id"]) == 0  # never below 0
        assert await directory_store.take_place(session, other["id"]) is None
    read = (await client.get(f"/fhir/HealthcareService/{chosen['id']}", headers=worker)).json()
    assert capacity(read)["availability"] == "full"
    assert (
        await client.get(
            "/fhir/HealthcareService", params={"capacity": "available"}, headers=worker
        )
    ).json()["total"] == 0

    waiting = await client.post(
        f"/fhir/HealthcareService/{chosen['id']}/$capacity",
        json={"capacity": "waiting-list"},
        headers=organisation,
    )
    assert capacity(waiting.json()) == {
        "availability": "waiting-list",
        "updated": capacity(waiting.json())["updated"],
    }


async def test_the_read_model_follows_the_topic_and_keeps_capacity(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    worker = token(stack, "link_worker", "lw-dir")
    records = json.loads(DEMO.read_text())
    chosen = records[5]
    organisation = token(stack, "organisation", "org-user", organisation=chosen["organization_id"])
    await client.post(
        f"/fhir/HealthcareService/{chosen['id']}/$capacity",
        json={"capacity": "places", "placesAvailable": 4},
        headers=organisation,
    )
    settings = InfraSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers, topic_prefix=stack.topic_prefix
    )
    async with app.state.directory._sessions() as session:
        [(_, bundle)] = [
            (c, b)
            for c, b in [await directory_store.read(session, chosen["id"])]  # type: ignore[misc]
        ]
    renamed = json.loads(json.dumps(bundle))
    renamed["entry"][0]["resource"]["name"] = "Renamed Quietly Service"
    await publish(
        settings,
        stack.topics.directory_services,
        # a poison message first: it is set aside and never blocks the rename behind it
        [("not-a-service", {"resourceType": "Patient"}), (chosen["id"], renamed)],
    )
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        read = (await client.get(f"/fhir/HealthcareService/{chosen['id']}", headers=worker)).json()
        if read["name"] == "Renamed Quietly Service":
            break
        assert asyncio.get_running_loop().time() < deadline, "the rename never arrived"
        await asyncio.sleep(0.3)
    assert capacity(read)["placesAvailable"] == 4, "a directory update lost the capacity"

    await publish(settings, stack.topics.directory_services, [(chosen["id"], None)])
    await wait_for(app, 389, within=60)
    gone = await client.get(f"/fhir/HealthcareService/{chosen['id']}", headers=worker)
    assert gone.status_code == 404


# The onward referrals table as branch h-d creates it (only the columns read here, and its
# NOT NULL ones): created if absent, so this test holds before and after it lands.
ONWARD_TABLE = """
CREATE TABLE IF NOT EXISTS router.onward_referrals (
    onward_id varchar(64) PRIMARY KEY, referral_id varchar(64) NOT NULL,
    organisation_id varchar(200) NOT NULL, status varchar(32) NOT NULL,
    business_status varchar(40) NOT NULL, version integer NOT NULL, record jsonb NOT NULL,
    request jsonb NOT NULL, task jsonb NOT NULL, next_check_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now())
"""


async def test_search_says_how_a_service_usually_answers(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, app, client = api
    worker = token(stack, "link_worker", "lw-dir")
    records = json.loads(DEMO.read_text())
    service_id = records[7]["id"]
    rows = [  # (status, step, days to answer, answered_at recorded)
        ("accepted", "accepted-by-service", 2, False),
        ("completed", "attended", 4, True),
        ("completed", "attended", None, False),  # moved on since: when it answered is unknown
        ("rejected", "declined-by-service", 6, False),
        ("rejected", "no-response", 14, False),
        ("requested", "awaiting-response", None, False),  # not decided: not counted
    ]
    async with app.state.directory._sessions.begin() as session:
        await session.execute(text(ONWARD_TABLE))
        for number, (status, step, days, recorded) in enumerate(rows):
            record = {"service_id": service_id, "sent_at": "2026-11-02T09:00:00+00:00"}
            if recorded:
                record["answered_at"] = f"2026-11-{2 + days:02d}T09:00:00+00:00"
            answered = f"2026-11-{2 + days:02d}T09:00:00+00:00" if days else "2026-11-30T09:00Z"
            await session.execute(
                text(
                    "INSERT INTO router.onward_referrals (onward_id, referral_id,"
                    " organisation_id, status, business_status, version, record, request, task,"
                    " updated_at) VALUES (:id, 'dir-1', 'org', :status, :step, 2,"
                    " CAST(:record AS jsonb), '{}', '{}', :at)"
                ),
                {
                    "id": f"onward-usual-{number}",
                    "status": status,
                    "step": step,
                    "record": json.dumps(record),
                    "at": datetime.fromisoformat(
                        "2026-11-30T09:00:00+00:00" if recorded else answered
                    ),
                },
            )
    read = (await client.get(f"/fhir/HealthcareService/{service_id}", headers=worker)).json()
    [usual] = [e for e in read["extension"] if e["url"].endswith("/usual-response")]
    parts = {p["url"]: next(v for k, v in p.items() if k != "url") for p in usual["extension"]}
    # answered: 4 (the hub's no-response is not an answer); days known 2, 4, 6 -> median 4;
    # accepted 3 of the 5 decided.
    assert parts == {"answered": 4, "medianDaysToAnswer": 4.0, "shareAccepted": 0.6}
    other = (await client.get(f"/fhir/HealthcareService/{records[8]['id']}", headers=worker)).json()
    [none] = [e for e in other["extension"] if e["url"].endswith("/usual-response")]
    assert none["extension"] == [{"url": "answered", "valueUnsignedInt": 0}]


async def test_an_organisation_accepting_an_onward_referral_takes_a_place(
    api: tuple[IsolatedStack, FastAPI, httpx.AsyncClient],
) -> None:
    stack, _, client = api
    worker = token(stack, "link_worker", "lw-dir")
    records = json.loads(DEMO.read_text())
    chosen = records[11]
    organisation = token(stack, "organisation", "org-user", organisation=chosen["organization_id"])
    assert (await client.post("/fhir/Task/dir-1/$accept", headers=worker)).status_code == 200
    assert (
        await client.post(
            f"/fhir/HealthcareService/{chosen['id']}/$capacity",
            json={"capacity": "places", "placesAvailable": 2},
            headers=organisation,
        )
    ).status_code == 200
    body = {
        "service": chosen["id"],
        "need": "loneliness-isolation",
        "person": {"name": "Ada Example", "phone": "020 7946 0000"},
        "consent": {"given": True, "recordedAt": "2026-12-01T10:00:00+00:00", "method": "verbal"},
    }
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # the onward consumer keeps its own list of services from the same topic
        sent = await client.post("/fhir/Task/dir-1/$refer-onward", json=body, headers=worker)
        if sent.status_code != 422 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert sent.status_code == 201, sent.text
    accepted = await client.post(f"/fhir/Task/{sent.json()['id']}/$accept", headers=organisation)
    assert accepted.status_code == 200, accepted.text
    read = (await client.get(f"/fhir/HealthcareService/{chosen['id']}", headers=worker)).json()
    assert capacity(read)["placesAvailable"] == 1, "accepting did not take a place"
    [usual] = [e for e in read["extension"] if e["url"].endswith("/usual-response")]
    parts = {p["url"]: next(v for k, v in p.items() if k != "url") for p in usual["extension"]}
    assert parts["answered"] == 1 and parts["shareAccepted"] == 1.0
