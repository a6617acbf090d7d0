"""Pages as their users would want them (issue 23): offers with their deadline, sorted and
filtered, titled by who referred; languages by name; friendly error pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hub_router.adapters.fhir_task import task_snapshot, with_routing_inputs
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from hub_web.domain.naming import language_name, source_label
from hub_web.domain.tasks import task_view
from hub_web.entrypoints.pages import time_left
from tests.support.web_fakes import CVA, SECRET, FakeHubApi, task
from tests.unit.test_web_pages import USERS, csrf_of, sign_in

SOON = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
LATER = (datetime.now(UTC) + timedelta(days=2, hours=1)).isoformat()


def routed(**route: object) -> list[dict[str, object]]:
    return with_routing_inputs({}, route)["input"]  # type: ignore[no-any-return]


@pytest.fixture
def api() -> FakeHubApi:
    fake = FakeHubApi()
    fake.tasks["late"] = task(
        "late",
        reference="GP-LATE",
        source="fhir",
        requester="Thornton Heath Surgery",
        deadline=LATER,
        last_modified="2026-11-20T09:00:00+00:00",
        inputs=routed(needs=["loneliness-isolation"], language="pl", district="CR7"),
    )
    fake.tasks["soon"] = task(
        "soon",
        reference="CVA-SOON",
        requester="Croydon Voluntary Action",
        deadline=SOON,
        last_modified="2026-11-20T11:00:00+00:00",
        inputs=routed(needs=["carer-support"], language="tw", interpreter_needed=True),
    )
    return fake


@pytest.fixture
async def client(api: FakeHubApi) -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": USERS})
    transport = httpx.ASGITransport(app=build_app(settings, api))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as test_client:
        yield test_client


def test_the_router_publishes_an_offers_deadline_as_the_tasks_restriction() -> None:
    deadline = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    common = {
        "referral_id": "r1",
        "episode_id": "e1",
        "version": 2,
        "status": "requested",
        "business_status": "offered",
        "owner": "lw-1",
        "requester": {"display": "Croydon Voluntary Action"},
        "referrer_identifier": {},
        "authored_on": None,
        "last_modified": datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    }
    offered = task_snapshot(**common, offer_expires_at=deadline)  # type: ignore[arg-type]
    assert offered["restriction"] == {"period": {"end": "2026-11-25T09:30:00+00:00"}}
    assert task_view(offered).offer_deadline == deadline
    assert "restriction" not in task_snapshot(**common)  # type: ignore[arg-type]


def test_languages_read_as_names_and_referrals_by_who_sent_them() -> None:
    assert language_name("tw") == "Twi"
    assert language_name("pt-BR") in ("Brazilian Portuguese", "Portuguese")
    assert language_name("zz-nothing") == "zz-nothing"
    assert language_name(None) == "not given"
    assert source_label("fhir") == "GP referral"
    assert source_label("fire") == "Fire service referral"
    view = task_view(task("r", source="fhir", requester="Thornton Heath Surgery"))
    assert view.title == "GP referral from Thornton Heath Surgery"


def test_time_left_says_how_long_in_the_largest_unit() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert time_left(now + timedelta(days=2, hours=3), now) == "in 2 days"
    assert time_left(now + timedelta(hours=1, minutes=5), now) == "in 1 hour"
    assert time_left(now - timedelta(minutes=1), now) == "passed"


async def test_offers_come_soonest_deadline_first_with_the_deadline_and_sender(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "lw-1")
    inbox = (await client.get("/worker")).text
    assert inbox.index("CVA-SOON") < inbox.index("GP-LATE")
    assert "GP referral from Thornton Heath Surgery" in inbox
    assert "Community referral from Croydon Voluntary Action" in inbox
    assert "Answer by" in inbox
    assert "in 4 hours" in inbox or "in 5 hours" in inbox
    assert "Twi (interpreter needed)" in inbox and "Polish" in inbox
    assert "Fhir referral" not in inbox
    oldest = (await client.get("/worker", params={"sort": "oldest"})).text
    assert oldest.index("GP-LATE") < oldest.index("CVA-SOON")


async def test_offers_filter_by_need_and_language(client: httpx.AsyncClient) -> None:
    await sign_in(client, "lw-1")
    carers = (await client.get("/worker", params={"need": "carer-support"})).text
    assert "CVA-SOON" in carers and "GP-LATE" not in carers
    assert "Showing 1 of 2 offers" in carers
    polish = (await client.get("/worker", params={"language": "pl"})).text
    assert "GP-LATE" in polish and "CVA-SOON" not in polish
    none = (await client.get("/worker", params={"need": "housing", "language": "pl"})).text
    assert "No offers match what you chose" in none


async def test_csrf_still_guards_the_inbox_forms(client: httpx.AsyncClient) -> None:
    await sign_in(client, "lw-1")
    assert csrf_of((await client.get("/worker")).text)


async def test_the_coordinator_chooses_among_workers_by_name_with_load_and_why_not(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    def candidate(worker: str, name: str, **more: object) -> dict[str, object]:
        return {
            "id": worker,
            "name": name,
            "eligible": True,
            "reason": None,
            "setAside": [],
            "openReferrals": 3,
            "maxCaseload": 40,
            "newToday": 1,
            "maxNewPerDay": 12,
            **more,
        }

    api.waiting_entries = [
        {
            "referralId": "r9",
            "district": "SW19",
            "borough": "Merton",
            "language": "tw",
            "decision": {"excluded": {"lw-full": "daily limit reached (12/12)"}},
            "candidates": [
                candidate("lw-twi", "Kwame Mensah"),
                candidate("lw-far", "Jane Doe", setAside=["does not cover the person's area"]),
                candidate(
                    "lw-full",
                    "Sam Full",
                    eligible=False,
                    reason="daily limit reached (12/12)",
                    newToday=12,
                ),
            ],
        }
    ]
    api.worker_entries = [{"id": "lw-twi", "name": "Kwame Mensah", "maxCaseload": 40}]
    api.tasks["r1"] = task("r1", owner="lw-twi", status="accepted", step="allocated")
    await sign_in(client, "co-1")
    page = (await client.get("/coordinator")).text
    assert "Twi" in page
    options = re.findall(r"<option value=\"(lw-[a-z]+)\"( disabled)?>([^<]*)</option>", page)
    assert [(worker, disabled) for worker, disabled, _ in options] == [
        ("lw-twi", ""),
        ("lw-far", ""),
        ("lw-full", " disabled"),
    ]
    assert options[0][2] == "Kwame Mensah · 3 of 40 open, 1 of 12 new today"
    assert "does not cover the person&#39;s area" in options[1][2]
    assert "cannot take it: daily limit reached (12/12)" in options[2][2]
    assert "Daily limit reached (12/12):</strong> Sam Full" in page  # exclusions by name
    charts = (await client.get("/coordinator/charts")).text
    assert "Kwame Mensah: 1 of 40" in charts and "lw-twi" not in charts


async def test_a_missing_page_is_a_friendly_page_that_keeps_the_way_back(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text and '{"detail"' not in missing.text
    assert 'href="/login"' in missing.text  # signed out: the way in
    await sign_in(client, "lw-1")
    missing = await client.get("/worker/nothing-here")
    assert 'href="/worker/caseload"' in missing.text and "Back to your start page" in missing.text
    assert missing.headers["content-security-policy"].startswith("default-src 'none'")


async def test_opening_a_forms_address_leads_to_the_page_of_the_form(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "lw-1")
    for form, page in (
        ("/worker/referrals/soon/accept", "/worker/referrals/soon"),
        ("/worker/referrals/soon/decline", "/worker/referrals/soon"),
        ("/coordinator/referrals/r9/assign", "/coordinator/referrals/r9"),
        ("/logout", "/"),
    ):
        answer = await client.get(form, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, page), form


async def test_the_favicon_is_served(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert 'rel="icon"' in (await client.get("/login")).text


async def test_a_fault_in_the_web_app_is_a_friendly_page(api: FakeHubApi) -> None:
    class Broken(FakeHubApi):
        async def router_tasks(self, token: str, **filters: object) -> list[dict[str, object]]:
            raise KeyError("a bug")

    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": USERS})
    app = build_app(settings, Broken())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as broken:
        await sign_in(broken, "lw-1")
        answer = await broken.get("/worker")
    assert answer.status_code == 500
    assert "Something went wrong on our side" in answer.text and "a bug" not in answer.text
    assert answer.headers["x-frame-options"] == "DENY"


def rejection(referral_id: str, *issues: tuple[str, str]) -> dict[str, object]:
    """A refusal as the notifier serves it: code and field path of each issue, no values."""
    found = task(referral_id, status="rejected", step="", reference="CVA-R", owner=None)
    found["identifier"].append(  # type: ignore[attr-defined]
        {"system": "https://referral-hub.org/fhir/Id/rejection", "value": referral_id}
    )
    found["output"] = [
        {
            "type": {"text": "issue"},
            "valueCodeableConcept": {"coding": [{"code": code}], "text": fields},
        }
        for code, fields in issues
    ]
    return found


def test_refusal_reasons_read_as_words_with_the_field_path_kept_small() -> None:
    from hub_web.domain.refusals import field_words, plain_problems

    view = task_view(
        rejection("x", ("required", "consent"), ("value", "Patient.birthDate, person.postcode"))
    )
    assert [(p.field, p.problem, p.path) for p in plain_problems(view.rejection_issues)] == [
        ("Consent", "is missing", "consent"),
        ("Date of birth", "has a value the hub cannot accept", "Patient.birthDate"),
        ("Postcode", "has a value the hub cannot accept", "person.postcode"),
    ]
    assert field_words("(message)") == "The referral as a whole"
    assert field_words("occupant.name") == "Occupant name"


async def test_the_referrer_reads_why_a_referral_was_refused_in_words(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    api.tasks = {"rx": rejection("rx", ("structure", "(message)"), ("required", "consent"))}
    await sign_in(client, CVA)
    page = (await client.get("/referrer")).text
    assert "<strong>The referral as a whole</strong> is not laid out as the hub expects." in page
    assert "<strong>Consent</strong> is missing." in page
    assert "(message)" not in page and ": structure" not in page
    form = (await client.get("/referrer/resubmit", params={"rejection": "rx"})).text
    assert "<strong>Consent</strong> is missing." in form
