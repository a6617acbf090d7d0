"""The link worker's "Find a service" page against a fake of the router: the referral's needs
are the first search, the worker's filters become the router's parameters, and each service
shows why it matches, its capacity and how it usually answers."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import httpx
import pytest

from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from tests.support.fhir_corpus import corpus
from tests.support.web_fakes import SECRET, FakeHubApi, task

USERS = [
    {"role": "link_worker", "subject": "lw-1", "name": "Worker One"},
    {"role": "coordinator", "subject": "co-1", "name": "Coordinator", "boroughs": ["Merton"]},
]


@pytest.fixture
def api() -> FakeHubApi:
    fake = FakeHubApi()
    offered = task("r1", owner="lw-1", reference="CVA-1")
    offered["input"] = [
        {
            "type": {"coding": [{"code": "need"}]},
            "valueCodeableConcept": {"coding": [{"code": "food-insecurity"}]},
        },
        {"type": {"coding": [{"code": "postcode-district"}]}, "valueString": "CR7"},
    ]
    fake.tasks["r1"] = offered
    fake.directory_answer = corpus()["Bundle/directory-search"]
    return fake


@pytest.fixture
async def client(api: FakeHubApi) -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": USERS})
    transport = httpx.ASGITransport(app=build_app(settings, api))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as test_client:
        login = (await test_client.get("/login")).text
        csrf = login.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await test_client.post("/login", data={"csrf": csrf, "user": "lw-1"})
        yield test_client


async def test_the_first_search_is_by_the_referrals_needs(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await client.get("/worker/referrals/r1/services")
    assert page.status_code == 200
    [(_, _, params)] = [c for c in api.calls if c[0] == "find-services"]
    assert ("referral", "r1") in params and ("category", "food-insecurity") in params
    text = html.unescape(page.text)
    assert "4 services found" in text
    assert "distances are from the centre of CR7" in text
    assert 'value="food-insecurity" checked' in page.text
    # Why each matches, capacity, and the usual response, from the router's answer.
    assert "Why it matches" in text and "Open on Saturday" in text
    assert "Places available: 3" in text and "Full" in text and "Waiting list" in text
    assert "Capacity not stated" in text
    assert "2 answered, usually within 3.5 days, 50% accepted" in text
    assert "No referrals answered through the hub yet" in text
    assert "1.2 km" in text


async def test_the_workers_filters_become_the_routers_parameters(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    query = (
        "search=yes&need=housing&need=bereavement&text=advice&distance=5&day=sat&day=funday"
        "&free=yes&age=70&capacity=available&capacity=bogus"
    )
    page = await client.get(f"/worker/referrals/r1/services?{query}")
    assert page.status_code == 200
    [(_, _, params)] = [c for c in api.calls if c[0] == "find-services"]
    assert params == [
        ("referral", "r1"),
        ("_count", "30"),
        ("category", "housing"),
        ("category", "bereavement"),
        ("_text", "advice"),
        ("distance", "5"),
        ("open-on", "sat"),
        ("free", "true"),
        ("age", "70"),
        ("capacity", "available"),
    ]


async def test_nothing_found_says_what_to_try(client: httpx.AsyncClient, api: FakeHubApi) -> None:
    api.directory_answer = corpus()["Bundle/directory-search-empty"]
    page = await client.get("/worker/referrals/r1/services?search=yes")
    assert "0 services found" in page.text and "Try fewer conditions" in page.text


async def test_another_workers_referral_is_not_found(client: httpx.AsyncClient) -> None:
    assert (await client.get("/worker/referrals/unknown/services")).status_code == 404


async def test_the_referral_page_links_to_it(client: httpx.AsyncClient) -> None:
    page = await client.get("/worker/referrals/r1")
    assert 'href="/worker/referrals/r1/services"' in page.text
