"""Onward referral on real PostgreSQL and Kafka, through the router's HTTP API with its real
lifespan (the directory consumer, the outbox relay): a link worker refers one person to two
community services; one organisation accepts over the API and marks the person attended, the
other never answers and is nudged, then declined by the hub at the deadline (injected clock).
The link worker's Task, the message back and the referrer's view reflect both; neither
organisation can see the other's referral."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub_common.fhir.task_outputs import SupportKind, read_outputs
from hub_common.jsonio import dumps
from hub_common.region.directory import DirectoryService, Organisation, to_bundle
from hub_common.security.auth import Principal, issue_token
from hub_common.security.disclosure import for_referrer
from hub_notifier.domain.message_back import message_back, message_back_parameter
from hub_router.bootstrap import build_app
from hub_router.config import RouterSettings
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.service_layer.onward import OnwardReferrals
from hub_router.service_layer.routing import RoutingService
from tests.support.infra import Infrastructure
from tests.support.kafka_io import collect, publish, read_to_end
from tests.support.referrals import service_request
from tests.support.router_support import MovableClock, add_workers, own_stack
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NUDGE_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 5 working days: end of Mon 30 Nov
DUE_AT = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # 10 working days: end of Mon 7 Dec
WORKER = LinkWorker(
    "lw-on",
    boroughs=frozenset({"Croydon"}),
    postcode_districts=frozenset({"CR7"}),
    working_days=frozenset(WEEKDAYS),
)
LUNCH_CLUB = DirectoryService(
    "svc-lunch",
    "Thornton Heath lunch club",
    Organisation("org-trust", "Thornton Heath Community Trust", email="trust@example.org"),
    feed="test",
)
ADVICE = DirectoryService(
    "svc-advice",
    "Norbury benefits advice",
    Organisation("org-advice", "Norbury Advice Centre", email="advice@example.org"),
    feed="test",
)


@dataclass
class Hub:
    stack: IsolatedStack
    app: FastAPI
    client: httpx.AsyncClient
    clock: MovableClock

    def as_(self, role: str, subject: str, organisation: str | None = None) -> dict[str, str]:
        principal = Principal(role, subject, organisation=organisation)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {issue_token(self.stack.auth_secret, principal)}"}

    @property
    def onward(self) -> OnwardReferrals:
        service: OnwardReferrals = self.app.state.onward
        return service


@pytest.fixture(scope="module")
async def hub(infra: Infrastructure) -> AsyncIterator[Hub]:
    async with own_stack(infra) as stack:
        clock = MovableClock(MONDAY)
        settings = RouterSettings(
            kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
            database_url=stack.database_url,
            topic_prefix=stack.topic_prefix,
            auth_secret=stack.auth_secret,
            onward_sweep_seconds=3600,  # the test sweeps by hand, with its own clock
        )
        app = build_app(settings, clock=clock)
        async with app.router.lifespan_context(app):
            routing: RoutingService = app.state.service
            await add_workers(routing, WORKER)
            for service in (LUNCH_CLUB, ADVICE):
                await publish(
                    stack.kafka_bootstrap_servers,
                    stack.topics.directory_services,
                    dumps(to_bundle(service)),
                    key=service.id,
                )
            await wait_for_services(stack.database_url, 2)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                yield Hub(stack, app, client, clock)


async def wait_for_services(database_url: str, count: int) -> None:
    """The router's directory read model has the services (and who runs them)."""
    engine = create_async_engine(database_url)
    try:
        for _ in range(150):
            async with engine.connect() as conn:
                found = await conn.scalar(text("select count(*) from router.directory_services"))
            if found == count:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"the router kept {found} directory services, not {count}")
    finally:
        await engine.dispose()


def refer_body(service: str, need: str) -> dict[str, Any]:
    return {
        "service": service,
        "need": need,
        "person": {"name": "Ada Example", "phone": "020 7946 0000"},
        "consent": {"given": True, "recordedAt": MONDAY.isoformat(), "method": "verbal"},
        "note": "Prefers mornings",
    }


async def test_two_onward_referrals_one_attended_one_declined_for_no_answer(hub: Hub) -> None:
    routing: RoutingService = hub.app.state.service
    referral = "onw-1"
    assert await routing.route(service_request(referral), f"event-{referral}", None) == "lw-on"
    worker = hub.as_("link_worker", "lw-on")
    trust = hub.as_("organisation", "trust-user", "org-trust")
    advice = hub.as_("organisation", "advice-user", "org-advice")
    client = hub.client

    # Not before the worker has accepted the referral.
    early = await client.post(
        f"/fhir/Task/{referral}/$refer-onward",
        json=refer_body("svc-lunch", "loneliness-isolation"),
        headers=worker,
    )
    assert early.status_code == 409, early.text
    assert (await client.post(f"/fhir/Task/{referral}/$accept", headers=worker)).status_code == 200

    # Bad input names its field; no consent, no referral; an unknown service is a 422.
    no_consent = refer_body("svc-lunch", "loneliness-isolation")
    no_consent["consent"]["given"] = False
    assert (
        await client.post(f"/fhir/Task/{referral}/$refer-onward", json=no_consent, headers=worker)
    ).status_code == 422
    unknown = await client.post(
        f"/fhir/Task/{referral}/$refer-onward",
        json=refer_body("svc-nope", "housing"),
        headers=worker,
    )
    assert unknown.status_code == 422
    assert unknown.json()["issue"][0]["expression"] == ["service"]
    other_worker = hub.as_("link_worker", "lw-other")
    assert (
        await client.post(
            f"/fhir/Task/{referral}/$refer-onward",
            json=refer_body("svc-lunch", "loneliness-isolation"),
            headers=other_worker,
        )
    ).status_code == 404

    lunch = await client.post(
        f"/fhir/Task/{referral}/$refer-onward",
        json=refer_body("svc-lunch", "loneliness-isolation"),
        headers=worker,
    )
    assert lunch.status_code == 201, lunch.text
    benefits = await client.post(
        f"/fhir/Task/{referral}/$refer-onward",
        json=refer_body("svc-advice", "money-debt-benefits"),
        headers=worker,
    )
    assert benefits.status_code == 201, benefits.text
    lunch_id, advice_id = lunch.json()["id"], benefits.json()["id"]
    sent = lunch.json()
    assert (sent["status"], sent["businessStatus"]["coding"][0]["code"]) == (
        "requested",
        "awaiting-response",
    )
    assert sent["partOf"] == [{"reference": f"Task/{referral}"}]
    assert sent["owner"]["identifier"]["value"] == "org-trust"
    assert sent["restriction"]["period"]["end"] == DUE_AT.isoformat()
    assert "Ada" not in dumps(sent).decode()  # the Task names the person by episode id only
    duplicate = await client.post(
        f"/fhir/Task/{referral}/$refer-onward",
        json=refer_body("svc-lunch", "loneliness-isolation"),
        headers=worker,
    )
    assert duplicate.status_code == 409

    # Each organisation sees only its own.
    mine = (await client.get("/fhir/Task", headers=trust)).json()
    assert [entry["resource"]["id"] for entry in mine["entry"]] == [lunch_id]
    for path in (f"/fhir/Task/{advice_id}", f"/fhir/ServiceRequest/{advice_id}"):
        assert (await client.get(path, headers=trust)).status_code == 404
    for path in (f"/fhir/Task/{referral}", f"/fhir/ServiceRequest/{referral}"):
        assert (await client.get(path, headers=trust)).status_code == 404
    assert (await client.post(f"/fhir/Task/{advice_id}/$accept", headers=trust)).status_code == 404
    assert (await client.post(f"/fhir/Task/{referral}/$accept", headers=trust)).status_code == 404
    assert (
        await client.post(
            f"/fhir/Task/{advice_id}/$attendance", json={"attendance": "attended"}, headers=trust
        )
    ).status_code == 404
    # Link workers, coordinators and agencies do not use the organisation's routes.
    assert (await client.get(f"/fhir/ServiceRequest/{lunch_id}", headers=worker)).status_code == 403

    # The trust reads the person and the consent, accepts, and marks them attended.
    person = (await client.get(f"/fhir/ServiceRequest/{lunch_id}", headers=trust)).json()
    assert person["basedOn"] == [{"reference": f"ServiceRequest/{referral}"}]
    assert person["performer"][0]["identifier"]["value"] == "org-trust"
    contained = {r["resourceType"]: r for r in person["contained"]}
    assert contained["Patient"]["name"] == [{"text": "Ada Example"}]
    assert contained["Consent"]["status"] == "active"
    assert person["note"] == [{"text": "Prefers mornings"}]
    too_soon = await client.post(
        f"/fhir/Task/{lunch_id}/$attendance", json={"attendance": "attended"}, headers=trust
    )
    assert too_soon.status_code == 409
    await places(hub, "svc-lunch", 3)
    accepted = await client.post(f"/fhir/Task/{lunch_id}/$accept", headers=trust)
    assert accepted.status_code == 200, accepted.text
    assert await places(hub, "svc-lunch") == 2  # accepting took one of the service's places
    assert accepted.json()["status"] == "accepted"
    parent = (await client.get(f"/fhir/Task/{referral}", headers=worker)).json()
    assert (parent["status"], parent["businessStatus"]) == (
        "in-progress",
        {
            "coding": [parent["businessStatus"]["coding"][0]],
            "text": "connected to 1 service",
        },
    )
    attended = await client.post(
        f"/fhir/Task/{lunch_id}/$attendance", json={"attendance": "attended"}, headers=trust
    )
    assert attended.status_code == 200, attended.text
    assert (attended.json()["status"], attended.json()["businessStatus"]["coding"][0]["code"]) == (
        "completed",
        "attended",
    )

    # The advice centre never answers: nudged once at half the deadline, declined at it.
    hub.clock.now = NUDGE_AT - timedelta(seconds=1)
    await hub.onward.sweep()
    hub.clock.now = NUDGE_AT
    await hub.onward.sweep()
    await hub.onward.sweep()
    hub.clock.now = DUE_AT - timedelta(seconds=1)
    await hub.onward.sweep()
    still = (await client.get(f"/fhir/Task/{advice_id}", headers=advice)).json()
    assert still["status"] == "requested"
    hub.clock.now = DUE_AT
    await hub.onward.sweep()
    await hub.onward.sweep()
    gone = (await client.get(f"/fhir/Task/{advice_id}", headers=advice)).json()
    assert (gone["status"], gone["businessStatus"]["coding"][0]["code"]) == (
        "rejected",
        "no-response",
    )
    assert "2026-12-07" in gone["statusReason"]["text"]
    late = await client.post(f"/fhir/Task/{advice_id}/$accept", headers=advice)
    assert late.status_code == 409

    # The link worker's caseload: both onward Tasks, and the support offered.
    both = (
        await client.get("/fhir/Task", params={"part-of": f"Task/{referral}"}, headers=worker)
    ).json()
    states = {
        e["resource"]["id"]: (
            e["resource"]["status"],
            e["resource"]["businessStatus"]["coding"][0]["code"],
        )
        for e in both["entry"]
    }
    assert states == {lunch_id: ("completed", "attended"), advice_id: ("rejected", "no-response")}
    assert (
        await client.get("/fhir/Task", params={"part-of": f"Task/{referral}"}, headers=other_worker)
    ).status_code == 404
    parent = (await client.get(f"/fhir/Task/{referral}", headers=worker)).json()
    [support] = read_outputs(parent).support
    assert (support.kind, support.service_id, support.service) == (
        SupportKind.ATTENDED,
        "svc-lunch",
        "Thornton Heath lunch club",
    )
    assert parent["businessStatus"]["text"] == "connected to 1 service"

    # The worker closes the referral: the message back carries the support offered.
    closed = await client.post(
        f"/fhir/Task/{referral}/$update-status", json={"status": "completed"}, headers=worker
    )
    assert closed.status_code == 200, closed.text
    tasks = await collect(
        hub.stack.kafka_bootstrap_servers,
        hub.stack.topics.tasks,
        lambda seen: any(t["id"] == referral and t["status"] == "completed" for t in seen),
    )
    final = next(t for t in tasks if t["id"] == referral and t["status"] == "completed")
    closing = message_back(
        final["status"],
        final["businessStatus"]["coding"][0]["code"],
        first_contact=True,
        outcomes=read_outputs(final),
    )
    assert closing is not None
    parts = dumps(message_back_parameter(closing, 9)).decode()
    assert '"support-offered"' in parts and "svc-lunch" in parts and '"attended"' in parts
    # The referrer reads "connected to 1 service" and no organisation or service name.
    seen_by_referrer = dumps(for_referrer(final)).decode()
    assert "connected to 1 service" in seen_by_referrer
    for name in ("Trust", "lunch club", "Advice", "org-trust", "svc-"):
        assert name not in seen_by_referrer

    # Every onward event on Kafka is keyed by the person's referral, in order.
    events = await read_until(hub, lambda seen: len(seen) >= 6)
    assert {key for key, _ in events} == {referral.encode()}
    kinds = [(value["onwardId"], value["kind"]) for _, value in events]
    assert [k for o, k in kinds if o == lunch_id] == ["sent", "accepted", "completed"]
    assert [k for o, k in kinds if o == advice_id] == ["sent", "nudged", "expired"]
    alerts = [
        value
        for _, value in await read_to_end(
            hub.stack.kafka_bootstrap_servers, hub.stack.topics.alerts
        )
        if value and value.get("alert") == "onward-no-response"
    ]
    assert len(alerts) == 1
    assert (alerts[0]["onwardTask"], alerts[0]["worker"], alerts[0]["dueAt"]) == (
        f"Task/{advice_id}",
        "lw-on",
        DUE_AT.isoformat(),
    )


async def places(hub: Hub, directory_id: str, set_to: int | None = None) -> int:
    """The service's free places in the router's directory read model (set them first)."""
    engine = create_async_engine(hub.stack.database_url)
    try:
        async with engine.begin() as conn:
            if set_to is not None:
                await conn.execute(
                    text(
                        "update router.directory_services set capacity = 'places',"
                        " places_available = :n where directory_id = :d"
                    ),
                    {"n": set_to, "d": directory_id},
                )
            left = await conn.scalar(
                text("select places_available from router.directory_services"
                     " where directory_id = :d"),
                {"d": directory_id},
            )  # fmt: skip
        return int(left)
    finally:
        await engine.dispose()


async def read_until(hub: Hub, enough: Any) -> list[tuple[bytes, dict[str, Any]]]:
    for _ in range(100):
        found = [
            (key, value)
            for key, value in await read_to_end(
                hub.stack.kafka_bootstrap_servers, hub.stack.topics.onward
            )
            if key is not None and value is not None
        ]
        if enough(found):
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"referrals.onward holds only {found}")
