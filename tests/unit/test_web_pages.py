"""The web app's pages against a fake of the hub's APIs: sessions, CSRF, roles, forms, and
what each role is (not) shown."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import Instrument, Timepoint, WellbeingMeasure
from hub_router.adapters.fhir_care_plan import to_care_plan
from hub_router.domain.care_plan import Action, ActionBy, CarePlan, Goal
from hub_router.entrypoints.outcome_bodies import OutputsBody
from hub_web.adapters.hub_api import ApiRefused
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from tests.support.referrals import service_request
from tests.support.web_fakes import CVA, SECRET, FakeHubApi, task, token_for

USERS = [
    {"role": "link_worker", "subject": "lw-1", "name": "Worker One"},
    {"role": "coordinator", "subject": "co-1", "name": "Coordinator", "boroughs": ["Merton"]},
    {
        "role": "agency",
        "subject": CVA,
        "name": "CVA",
        "organisation": CVA,
        "sources": ["community"],
    },
]
FIRST_ONS4 = WellbeingMeasure(
    Instrument.ONS4,
    Timepoint.FIRST_CONTACT,
    datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7)),
)


@pytest.fixture
def api() -> FakeHubApi:
    fake = FakeHubApi()
    fake.tasks["r1"] = task("r1", owner="lw-1", reference="CVA-1")
    fake.tasks["r2"] = task(
        "r2",
        owner="lw-1",
        reference="CVA-2",
        status="in-progress",
        step="first-contact-made",
        outcomes=Outcomes(measures=(FIRST_ONS4,)),
        reason="Seen at home",
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


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found[1]


async def sign_in(client: httpx.AsyncClient, subject: str) -> str:
    """Sign in as a demo user; the CSRF token of their first page."""
    await client.post(
        "/login", data={"csrf": csrf_of((await client.get("/login")).text), "user": subject}
    )
    return csrf_of((await client.get("/")).text)


async def test_every_page_asks_for_sign_in_first(client: httpx.AsyncClient) -> None:
    for path in ("/", "/worker", "/coordinator/charts", "/referrer"):
        answer = await client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")


async def test_sign_in_sets_an_httponly_strict_session_cookie(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert "Worker One" in page.text
    answer = await client.post(
        "/login", data={"csrf": csrf_of(page.text), "user": "lw-1"}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("hub_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/worker"


async def test_sign_in_refuses_a_forged_form_and_unknown_users(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    assert (await client.post("/login", data={"csrf": "forged", "user": "lw-1"})).status_code == 403
    csrf = csrf_of((await client.get("/login")).text)
    answer = await client.post(
        "/login", data={"csrf": csrf, "user": "nobody"}, follow_redirects=False
    )
    assert answer.headers["location"] == "/login?failed=1"


async def test_sign_in_with_a_token_from_the_cli(client: httpx.AsyncClient) -> None:
    csrf = csrf_of((await client.get("/login")).text)
    await client.post("/login", data={"csrf": csrf, "token": token_for("coordinator", "co-9")})
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/coordinator"


async def test_forms_without_the_sessions_csrf_token_change_nothing(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    await sign_in(client, "lw-1")
    assert (await client.post("/worker/referrals/r1/accept", data={"csrf": "x"})).status_code == 403
    assert api.calls == []


async def test_a_page_of_another_role_is_refused(client: httpx.AsyncClient) -> None:
    await sign_in(client, "lw-1")
    assert (await client.get("/coordinator")).status_code == 403
    assert (await client.get("/coordinator/referrals/r2")).status_code == 403
    assert (await client.get("/referrer")).status_code == 403


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    headers = (await client.get("/login")).headers
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"


async def test_the_inbox_lists_offers_and_accepting_redirects_to_the_referral(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    inbox = (await client.get("/worker")).text
    assert "CVA-1" in inbox and "CVA-2" not in inbox  # only offers
    answer = await client.post(
        "/worker/referrals/r1/accept", data={"csrf": csrf}, follow_redirects=False
    )
    assert answer.headers["location"] == "/worker/referrals/r1?done=accepted"
    assert api.calls == [("accept", "r1", None)]


async def test_the_worker_sees_that_the_referrer_amended_an_offer(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    note = "The referrer amended the referral: ServiceRequest version 2"
    api.tasks["r1"] = {**task("r1", owner="lw-1", version=2), "note": [{"text": note}]}
    await sign_in(client, "lw-1")
    assert note in (await client.get("/worker")).text
    assert note in (await client.get("/worker/referrals/r1")).text
    api.tasks["r1"] = task("r1", owner="lw-1")
    assert "amended" not in (await client.get("/worker")).text


async def test_declining_needs_a_reason(client: httpx.AsyncClient, api: FakeHubApi) -> None:
    csrf = await sign_in(client, "lw-1")
    answer = await client.post("/worker/referrals/r1/decline", data={"csrf": csrf, "reason": " "})
    assert answer.status_code == 409 and "reason for declining is required" in answer.text
    await client.post(
        "/worker/referrals/r1/decline", data={"csrf": csrf, "reason": "Full this week"}
    )
    assert api.calls == [("decline", "r1", "Full this week")]


async def test_a_refused_move_is_explained_on_the_referral_page(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    api.refuse_next = ApiRefused(409, "a Task cannot move from in-progress to accepted")
    answer = await client.post(
        "/worker/referrals/r2/progress", data={"csrf": csrf, "status": "on-hold", "note": "Away"}
    )
    assert answer.status_code == 409
    assert "a Task cannot move from in-progress to accepted" in answer.text


async def test_closing_keeps_the_first_contact_scores_beside_the_closing_ones(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    form = {"csrf": csrf, "satisfied": "7", "worthwhile": "8", "happy": "6", "anxious": "2"}
    rows = {
        "support-need": ["carer-support", "", "loneliness-isolation", ""],
        "support-service": ["Carers' café", "", "Choir", ""],
        "support-kind": ["attended", "", "signposted", ""],
    }
    await client.post("/worker/referrals/r2/close", data={**form, **rows, "summary": "Good"})
    ((_, referral_id, body),) = api.calls
    assert referral_id == "r2"
    assert body["status"] == "completed" and body["businessStatus"] == "connected-to-services"
    # What the web sends is what the router's API reads into the shared outcomes.
    outcomes = OutputsBody.model_validate(body["outputs"]).to_domain()
    assert outcomes.summary == "Good"
    assert outcomes.measure(Instrument.ONS4, Timepoint.FIRST_CONTACT) == FIRST_ONS4
    closing = outcomes.measure(Instrument.ONS4, Timepoint.CLOSURE)
    assert closing is not None and closing.score("anxious") == 2
    assert [(s.need, s.service, s.kind) for s in outcomes.support] == [
        (NeedCategory.CARER_SUPPORT, "Carers' café", SupportKind.ATTENDED),
        (NeedCategory.LONELINESS_ISOLATION, "Choir", SupportKind.SIGNPOSTED),
    ]


async def test_closing_keeps_the_services_taken_on_through_onward_referrals(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    """The router records an onward referral a service took on as support offered, with the
    directory id; outputs are replaced as a whole, so closing must send it back."""
    onward = SupportOffered(
        NeedCategory.FOOD_INSECURITY, SupportKind.ATTENDED, "Croydon food bank", "svc-food-1"
    )
    api.tasks["r2"] = task(
        "r2",
        owner="lw-1",
        status="in-progress",
        step="connected-to-services",
        outcomes=Outcomes(measures=(FIRST_ONS4,), support=(onward,)),
    )
    csrf = await sign_in(client, "lw-1")
    form = {"csrf": csrf, "satisfied": "7", "worthwhile": "8", "happy": "6", "anxious": "2"}
    rows = {
        "support-need": ["loneliness-isolation"],
        "support-service": ["Choir"],
        "support-kind": ["signposted"],
    }
    await client.post("/worker/referrals/r2/close", data={**form, **rows})
    ((_, _, body),) = api.calls
    outcomes = OutputsBody.model_validate(body["outputs"]).to_domain()
    assert [(s.service, s.service_id) for s in outcomes.support] == [
        ("Croydon food bank", "svc-food-1"),
        ("Choir", None),
    ]


async def test_a_half_filled_support_row_is_explained_not_sent(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    form = {"csrf": csrf, "satisfied": "7", "worthwhile": "8", "happy": "6", "anxious": "2"}
    rows = {"support-need": ["", "housing"], "support-service": ["", ""], "support-kind": ["", ""]}
    answer = await client.post("/worker/referrals/r2/close", data={**form, **rows})
    assert answer.status_code == 409 and "Support 2: name the service or activity" in answer.text
    assert api.calls == []


async def test_the_referral_page_shows_the_recorded_measure(client: httpx.AsyncClient) -> None:
    await sign_in(client, "lw-1")
    page = (await client.get("/worker/referrals/r2")).text
    assert "Wellbeing at first contact: ONS personal wellbeing (ONS4)" in page
    assert "Overall, how anxious did you feel yesterday?</th><td>7</td>" in page


async def test_the_referral_page_charts_the_persons_wellbeing_change(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    closing = WellbeingMeasure(
        Instrument.ONS4,
        Timepoint.CLOSURE,
        datetime(2027, 1, 20, 10, 0, tzinfo=UTC),
        (("satisfied", 7), ("worthwhile", 7), ("happy", 6), ("anxious", 3)),
    )
    api.tasks["r3"] = task(
        "r3",
        owner="lw-1",
        status="completed",
        step="connected-to-services",
        outcomes=Outcomes(measures=(FIRST_ONS4, closing)),
    )
    await sign_in(client, "lw-1")
    page = (await client.get("/worker/referrals/r3")).text
    assert 'id="wellbeing-change"' in page
    assert "Life satisfaction at first contact: 4 of 10" in page
    assert "Life satisfaction at closure: 7 of 10" in page


async def test_the_coordinator_sees_one_persons_referral_and_wellbeing_change(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    api.people["r2"] = service_request("r2", language="tw", interpreter=True, risk="high")
    await sign_in(client, "co-1")
    page = (await client.get("/coordinator/referrals/r2")).text
    assert api.person_reads == ["r2"]  # through the notifier, which audits it
    assert 'id="person-heading"' in page and "interpreter needed" in page
    assert "Life satisfaction at first contact: 4 of 10" in page
    assert (await client.get("/coordinator/referrals/unknown")).status_code == 404


async def test_scores_outside_the_scale_are_explained_not_sent(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    form = {"csrf": csrf, "satisfied": "11", "worthwhile": "8", "happy": "6", "anxious": "2"}
    answer = await client.post("/worker/referrals/r1/first-contact", data=form)
    assert answer.status_code == 409 and "whole number from 0 to 10" in answer.text
    assert api.calls == []


async def test_a_referral_that_is_not_yours_is_not_found(client: httpx.AsyncClient) -> None:
    await sign_in(client, "lw-1")
    assert (await client.get("/worker/referrals/unknown")).status_code == 404


async def test_the_referrer_sees_steps_and_services_but_not_scores_or_notes(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, CVA)
    page = (await client.get("/referrer")).text
    assert "First contact made with the person" in page
    detail = (await client.get("/referrer/referrals/r2")).text
    for private in ("ONS4", "Seen at home", "satisfied"):
        assert private not in page and private not in detail


async def test_a_resubmission_shows_what_intake_said(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, CVA)
    api.intake_answer = {
        "results": [
            {
                "status": "rejected",
                "referral_id": None,
                "referrer_reference": "CVA-7",
                "outcome": {
                    "issue": [
                        {
                            "severity": "error",
                            "diagnostics": "consent is required",
                            "expression": ["consent"],
                        }
                    ]
                },
            }
        ]
    }
    answer = await client.post(
        "/referrer/resubmit", data={"csrf": csrf, "source": "community", "body": "{}"}
    )
    assert "Refused again" in answer.text and "consent is required" in answer.text
    assert api.calls == [("submit", "community", b"{}")]
    refused = await client.post(
        "/referrer/resubmit", data={"csrf": csrf, "source": "police", "body": "{}"}
    )
    assert refused.status_code == 422 and len(api.calls) == 1


async def test_the_coordinator_assigns_and_sees_charts(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "co-1")
    api.waiting_entries = [
        {
            "referralId": "r9",
            "district": "SW19",
            "borough": "Merton",
            "decision": {"excluded": {"lw-1": "area"}},
        }
    ]
    page = (await client.get("/coordinator")).text
    assert "SW19, Merton" in page and '<option value="lw-1">' in page
    await client.post("/coordinator/referrals/r9/assign", data={"csrf": csrf, "worker": "lw-1"})
    assert api.calls == [("assign", "r9", "lw-1")]
    charts = (await client.get("/coordinator/charts")).text
    assert charts.count('role="img"') == 3 and "lw-1" in charts


async def test_the_referrer_and_the_coordinator_download_the_csv_with_their_own_token(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    await sign_in(client, CVA)
    assert 'href="/reports/referrals.csv"' in (await client.get("/referrer")).text
    download = await client.get("/reports/referrals.csv")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content == b"referral_id,patient_name\r\nr1,'=HYPERLINK(1)\r\n"
    client.cookies.clear()
    await sign_in(client, "co-1")
    assert 'href="/reports/referrals.csv"' in (await client.get("/coordinator")).text
    assert (await client.get("/reports/referrals.csv")).status_code == 200
    assert api.calls == [("referrals-csv", CVA, None), ("referrals-csv", "co-1", None)]
    client.cookies.clear()
    await sign_in(client, "lw-1")
    assert (await client.get("/reports/referrals.csv")).status_code == 403


def test_routing_facts_from_the_router_are_read_for_the_inbox() -> None:
    from hub_router.adapters.fhir_task import with_routing_inputs
    from hub_web.domain.tasks import task_view

    task = with_routing_inputs(
        {"resourceType": "Task", "id": "r1", "status": "requested"},
        {
            "needs": ["carer-support", "loneliness-isolation"],
            "language": "tw",
            "interpreter_needed": True,
            "risk_flagged": True,
            "district": "CR7",
            "borough": "Croydon",
        },
    )
    facts = task_view(task).routing
    assert facts is not None
    assert facts.needs == ("carer-support", "loneliness-isolation")
    assert (facts.language, facts.interpreter_needed, facts.risk_to_visitors) == ("tw", True, True)
    assert facts.area == "CR7 · Croydon"
    assert task_view({"resourceType": "Task", "id": "r2"}).routing is None


async def test_the_coordinator_sees_escalations_then_breaches_in_captioned_tables(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    await sign_in(client, "co-1")
    empty = (await client.get("/coordinator/alerts")).text
    assert "No escalations." in empty and "No open breaches." in empty
    api.alert_entries = [
        {
            "referralId": "r-late",
            "borough": "Merton",
            "rule": "first-contact",
            "level": "breach",
            "dueAt": "2026-12-01T00:00:00+00:00",
            "raisedAt": "2026-12-01T00:05:00+00:00",
        },
        {
            "referralId": "r-later",
            "borough": "Merton",
            "rule": "first-contact",
            "level": "escalated",
            "dueAt": "2026-12-08T00:00:00+00:00",
            "raisedAt": "2026-12-08T00:05:00+00:00",
        },
    ]
    page = (await client.get("/coordinator/alerts")).text
    assert "<caption>Escalated referrals, oldest first (1)</caption>" in page
    assert "<caption>Referrals past a service level, oldest first (1)</caption>" in page
    assert page.index("r-later") < page.index("r-late<")  # escalations come first
    assert "First contact not made in time" in page and 'scope="col"' in page
    assert 'href="/coordinator/alerts" aria-current="page"' in page


async def test_the_worker_sees_the_person_first_and_the_plan_once_they_hold_the_referral(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    # The ServiceRequest and CarePlan as intake and the router write them (their own mappers).
    api.people["r2"] = service_request("r2", language="tw", interpreter=True, risk="high")
    api.plans["r2"] = to_care_plan(
        CarePlan(
            "r2",
            "Seeing people again",
            goals=(Goal("Lunch club weekly", NeedCategory.LONELINESS_ISOLATION),),
            actions=(Action("Phone the club", ActionBy.LINK_WORKER, date(2026, 12, 10)),),
            version=3,
        ),
        "ep-r2",
        "lw-1",
    )
    await sign_in(client, "lw-1")
    page = (await client.get("/worker/referrals/r2")).text
    person = page.index('id="person-heading">Test Person-r2</h2>')
    assert person < page.index("<dt>Status</dt>")  # the first thing on the page
    assert 'href="tel:02079460000"' in page and "interpreter needed" in page
    assert "High: do not visit alone" in page
    assert "Seeing people again" in page and "Lunch club weekly" in page
    assert '<input type="hidden" name="version" value="3">' in page
    assert '<option value="link-worker" selected>Link worker</option>' in page

    offered = (await client.get("/worker/referrals/r1")).text  # only offered: no person
    assert "person-heading" not in offered and "plan-heading" not in offered
    assert api.person_reads == ["r2"]


async def test_the_plan_form_sends_a_new_version_over_the_one_it_showed(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    form = {
        "csrf": csrf,
        "version": "3",
        "what_matters": "  My garden  ",
        "goal-0-description": "Grow tomatoes",
        "goal-0-need": "physical-activity",
        "goal-0-target": "2027-06-01",
        "goal-1-description": "",
        "action-0-description": "Join the allotment society",
        "action-0-by": "person",
        "action-0-done": "yes",
    }
    answer = await client.post("/worker/referrals/r2/care-plan", data=form)
    assert answer.status_code == 200
    [(_, referral_id, (body, version))] = [c for c in api.calls if c[0] == "care-plan"]
    assert (referral_id, version) == ("r2", 3)
    assert body == {
        "whatMatters": "My garden",
        "goals": [
            {
                "description": "Grow tomatoes",
                "need": "physical-activity",
                "targetDate": "2027-06-01",
                "achieved": False,
            }
        ],
        "actions": [{"description": "Join the allotment society", "by": "person", "done": True}],
    }
    bad = await client.post(
        "/worker/referrals/r2/care-plan",
        data={**form, "goal-0-target": "31/02/2027"},
    )
    assert bad.status_code == 409 and "A goal&#39;s target date is not a date" in bad.text
    api.refuse_next = ApiRefused(409, "the plan is at version 4, not 3: reload it and try again")
    stale = await client.post("/worker/referrals/r2/care-plan", data=form)
    assert stale.status_code == 409 and "reload it and try again" in stale.text


async def test_the_referrers_timeline_times_each_milestone_from_the_task_history(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    # r2 is in progress; its earlier versions say when it was offered, accepted and reached.
    api.history["r2"] = [
        task("r2", version=1, last_modified="2026-11-20T10:05:00+00:00"),
        task(
            "r2",
            version=2,
            status="accepted",
            step="allocated",
            last_modified="2026-11-20T14:30:00+00:00",
        ),
        task(
            "r2",
            version=3,
            status="in-progress",
            step="first-contact-made",
            last_modified="2026-11-21T09:15:00+00:00",
        ),
    ]
    api.tasks["r2"]["meta"]["lastUpdated"] = "2026-11-22T11:00:00+00:00"
    api.tasks["r2"]["lastModified"] = "2026-11-22T11:00:00+00:00"
    await sign_in(client, CVA)
    detail = (await client.get("/referrer/referrals/r2")).text
    assert "time not recorded" not in detail
    for when in ("20 Nov 2026, 10:05", "20 Nov 2026, 14:30", "21 Nov 2026, 09:15"):
        assert when in detail


async def test_the_worker_sees_the_persons_other_referrals_and_which_is_open(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    api.people["r2"] = service_request("r2")
    api.same_people["r2"] = [
        {
            "referralId": "police-1",
            "source": "police",
            "receivedAt": "2026-11-20T10:00:00+00:00",
            "status": "in-progress",
            "businessStatus": "first-contact-made",
            "open": True,
            "episode": True,
            "linkedBy": "demographics",
        },
        {
            "referralId": "r2",
            "source": "fhir",
            "receivedAt": "2026-11-25T10:00:00+00:00",
            "status": "accepted",
            "open": True,
            "episode": False,
            "linkedBy": "nhs-number",
        },
    ]
    await sign_in(client, "lw-1")
    page = (await client.get("/worker/referrals/r2")).text
    others = page[page.index('id="others-heading"') : page.index("</section>")]
    assert "<strong>Police</strong>" in others and "the open referral of this episode" in others
    assert "Same name, birth date and contact details" in others
    assert "<code>police-1</code>" in others and "<code>r2</code>" not in others
    api.same_people["r2"] = [api.same_people["r2"][1]]
    alone = (await client.get("/worker/referrals/r2")).text
    assert "None: no other agency has referred this person to the hub." in alone


async def test_a_coordinator_decides_whether_two_referrals_are_one_person(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "co-1")
    assert "Nothing to decide" in (await client.get("/coordinator/people")).text
    side = {"source": "police", "receivedAt": "2026-11-20T10:00:00+00:00", "family": "mensah"}
    api.review_entries = [
        {
            "reviewId": "rev-1",
            "score": 0.914,
            "fields": {"birthDate": 1.0, "family": 1.0, "given": 0.6, "postcode": 1.0},
            "swappedNames": False,
            "referral": {
                **side,
                "referralId": "new-1",
                "given": ["ann"],
                "birthDate": "1958-07-14",
            },
            "other": {**side, "referralId": "old-1", "given": ["amy"], "nhsNumber": "9434765919"},
        }
    ]
    page = (await client.get("/coordinator/people")).text
    assert "91% alike" in page and "Ann Mensah" in page and "Amy Mensah" in page
    assert '<th scope="row">Given name</th><td>60%</td>' in page
    assert 'href="/coordinator/people" aria-current="page"' in page
    answer = await client.post(
        "/coordinator/people/rev-1/same", data={"csrf": csrf}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/coordinator/people?done=same",
    )
    await client.post("/coordinator/people/rev-1/different", data={"csrf": csrf})
    assert [c for c in api.calls if c[0] == "person-review"] == [
        ("person-review", "rev-1", "confirm"),
        ("person-review", "rev-1", "split"),
    ]
    api.refuse_next = ApiRefused(409, "this pair was decided already (split)")
    again = await client.post("/coordinator/people/rev-1/same", data={"csrf": csrf})
    assert again.status_code == 409 and "decided already" in again.text
    forged = await client.post("/coordinator/people/rev-1/same", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert (
        await client.post("/coordinator/people/rev-1/maybe", data={"csrf": csrf})
    ).status_code == 400  # the app's answer to a malformed request
