"""Onward referrals in the web app, against a fake of the router: the organisation's inbox
(only its own referrals; accept, decline with a reason, attendance) and the link worker's
Refer action from "Find a service" with each onward referral's status on the referral page."""

from __future__ import annotations

import contextlib
import copy
import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_web.adapters.hub_api import ApiRefused
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from tests.support.fhir_corpus import corpus
from tests.support.web_fakes import SECRET, FakeHubApi, task

USERS = [
    {"role": "link_worker", "subject": "lw-1", "name": "Worker One"},
    {"role": "organisation", "subject": "org-a", "name": "Trust A", "organisation": "org-7"},
    {"role": "organisation", "subject": "org-b", "name": "Trust B", "organisation": "org-99"},
]


def onward(label: str, onward_id: str, referral_id: str = "r2") -> dict[str, Any]:
    """A corpus onward Task (validated FHIR) under another id and parent referral."""
    resource = copy.deepcopy(corpus()[f"Task/onward-{label}"])
    resource["id"] = onward_id
    resource["partOf"] = [{"reference": f"Task/{referral_id}"}]
    return resource


@pytest.fixture
def api() -> FakeHubApi:
    fake = FakeHubApi()
    fake.tasks["r2"] = task("r2", status="accepted", step="allocated", owner="lw-1")
    fake.people["r2"] = copy.deepcopy(corpus()["ServiceRequest/community-0"])
    fake.directory_answer = corpus()["Bundle/directory-search"]
    fake.onward["onward-new"] = onward("sent", "onward-new")
    fake.onward["onward-acc"] = onward("accepted", "onward-acc")
    fake.onward["onward-dec"] = onward("declined", "onward-dec")
    fake.onward["onward-late"] = onward("no-response", "onward-late")
    for onward_id in fake.onward:
        fake.onward_requests[onward_id] = corpus()["ServiceRequest/onward"]
    return fake


@contextlib.asynccontextmanager
async def signed_in(api: FakeHubApi, user: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": USERS})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(settings, api)),
        base_url="http://testserver",
        follow_redirects=True,
    ) as client:
        login = (await client.get("/login")).text
        csrf = login.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await client.post("/login", data={"csrf": csrf, "user": user})
        yield client


@pytest.fixture
async def organisation(api: FakeHubApi) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(api, "org-a") as client:
        yield client


@pytest.fixture
async def worker(api: FakeHubApi) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(api, "lw-1") as client:
        yield client


def words(page: httpx.Response) -> str:
    """The page's text as read: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def test_the_inbox_lists_new_taken_on_and_finished_referrals(
    organisation: httpx.AsyncClient,
) -> None:
    page = await organisation.get("/organisation")
    assert page.status_code == 200
    text = words(page)
    assert "New: please answer (1)" in text and "answer by the end of 7 Dec 2026" in text
    assert "Taken on: say whether the person comes (1)" in text
    assert "Finished (2)" in text
    assert "Reason: No places until March" in text
    assert "No answer by the deadline" in text
    # The organisation's home after sign-in is its inbox.
    assert str(page.url).endswith("/organisation")


async def test_another_organisation_sees_none_of_them(api: FakeHubApi) -> None:
    async with signed_in(api, "org-b") as other:
        inbox = words(await other.get("/organisation"))
        assert "New: please answer (0)" in inbox and "onward-new" not in inbox
        page = await other.get("/organisation/referrals/onward-new")
        assert page.status_code == 404
    assert api.person_reads == []


async def test_a_referral_shows_the_person_as_shared_and_can_be_accepted(
    organisation: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await organisation.get("/organisation/referrals/onward-new")
    assert page.status_code == 200
    text = words(page)
    assert "Ada Example" in text and "020 7946 0000" in text and "Prefers mornings" in text
    assert "Consent to share with Thornton Heath Community Trust (verbal)" in text
    assert api.person_reads == ["onward-new"]
    done = await organisation.post(
        "/organisation/referrals/onward-new/accept", data={"csrf": csrf_of(page.text)}
    )
    assert ("accept", "onward-new", None) in api.calls
    assert "Referral accepted" in done.text


async def test_declining_needs_a_reason_the_worker_will_read(
    organisation: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await organisation.get("/organisation/referrals/onward-new")
    url = "/organisation/referrals/onward-new/decline"
    empty = await organisation.post(url, data={"csrf": csrf_of(page.text), "reason": " "})
    assert empty.status_code == 409 and "A reason for declining is required" in empty.text
    assert not [c for c in api.calls if c[0] == "decline"]
    done = await organisation.post(url, data={"csrf": csrf_of(page.text), "reason": "Full"})
    assert ("decline", "onward-new", "Full") in api.calls
    assert "Referral declined" in done.text


async def test_attendance_is_recorded_once_taken_on(
    organisation: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await organisation.get("/organisation/referrals/onward-acc")
    assert "Did the person come?" in page.text and "Decline" not in page.text
    url = "/organisation/referrals/onward-acc/attendance"
    bad = await organisation.post(url, data={"csrf": csrf_of(page.text), "attended": "maybe"})
    assert bad.status_code == 409
    await organisation.post(
        url, data={"csrf": csrf_of(page.text), "attended": "did-not-attend", "reason": "Ill"}
    )
    assert ("attendance", "onward-acc", ("did-not-attend", "Ill")) in api.calls


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(
    organisation: httpx.AsyncClient, api: FakeHubApi
) -> None:
    answer = await organisation.post("/organisation/referrals/onward-new/accept", data={})
    assert answer.status_code == 403
    assert not [c for c in api.calls if c[0] == "accept"]


async def test_a_link_worker_cannot_open_the_inbox(worker: httpx.AsyncClient) -> None:
    page = await worker.get("/organisation")
    assert page.status_code == 403 and "Not for your role" in page.text


@pytest.mark.parametrize(
    "path", ["/worker", "/worker/referrals/r2", "/worker/referrals/r2/services", "/coordinator"]
)
async def test_an_organisation_opens_no_other_roles_page(
    organisation: httpx.AsyncClient, api: FakeHubApi, path: str
) -> None:
    page = await organisation.get(path)
    assert page.status_code == 403 and "Not for your role" in page.text
    assert api.person_reads == [] and not api.calls


async def test_the_referral_page_shows_each_onward_referrals_status(
    worker: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await worker.get("/worker/referrals/r2")
    text = words(page)
    assert "Onward referrals (4)" in text
    for said in (
        "Requested: waiting for the service to answer",
        "Accepted by the service",
        "Declined by the service",
        "Reason: No places until March",
        "No answer by the deadline",
    ):
        assert said in text
    assert ("lw-1", "r2") in api.onward_searches


async def test_refer_from_find_a_service_sends_consent_and_what_to_share(
    worker: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await worker.get("/worker/referrals/r2/services")
    assert "to this service</summary>" in page.text
    service_id = re.findall(r'/services/([^/"]+)/refer"', page.text)[0]
    url = f"/worker/referrals/r2/services/{service_id}/refer"
    form = {
        "csrf": csrf_of(page.text),
        "need": "loneliness-isolation",
        "name": "Ada Example",
        "phone": "",
        "email": "ada@example.org",
        "method": "written",
        "note": "Mornings are best",
    }
    refused = await worker.post(url, data=form)
    assert refused.status_code == 409 and "Tick that the person agreed" in refused.text
    assert not [c for c in api.calls if c[0] == "refer-onward"]
    done = await worker.post(url, data={**form, "consent": "yes"})
    assert "Onward referral sent" in words(done)
    [(_, referral, body)] = [c for c in api.calls if c[0] == "refer-onward"]
    assert referral == "r2" and body["service"] == service_id
    assert body["person"] == {"name": "Ada Example", "email": "ada@example.org"}
    assert body["consent"]["given"] is True and body["consent"]["method"] == "written"
    assert body["need"] == "loneliness-isolation" and body["note"] == "Mornings are best"


async def test_the_routers_refusal_is_shown_on_the_page(
    worker: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await worker.get("/worker/referrals/r2/services")
    service_id = re.findall(r'/services/([^/"]+)/refer"', page.text)[0]
    api.refuse_next = ApiRefused(422, "service: no such service in the directory")
    answer = await worker.post(
        f"/worker/referrals/r2/services/{service_id}/refer",
        data={
            "csrf": csrf_of(page.text),
            "consent": "yes",
            "method": "verbal",
            "need": "housing",
            "name": "Ada",
            "phone": "020 7946 0000",
        },
    )
    assert answer.status_code == 409 and "no such service in the directory" in answer.text


async def test_the_caseload_shows_services_taken_on_or_attended(
    worker: httpx.AsyncClient, api: FakeHubApi
) -> None:
    support = (
        SupportOffered(NeedCategory.CARER_SUPPORT, SupportKind.ATTENDED, "Carers' café", "svc-1"),
        SupportOffered(NeedCategory.HOUSING, SupportKind.REFERRED, "Housing advice", "svc-2"),
        SupportOffered(NeedCategory.HOUSING, SupportKind.SIGNPOSTED, "Leaflet"),  # by hand
    )
    api.tasks["r3"] = task(
        "r3",
        status="in-progress",
        step="connected-to-services",
        owner="lw-1",
        outcomes=Outcomes(support=support),
    )
    text = words(await worker.get("/worker/caseload"))
    assert "Onward: Carers' café (attended); Housing advice (accepted)" in text
    assert "Leaflet" not in text
