"""The web app in headless Chromium against the running hub (real Kafka and PostgreSQL):
a referral from an agency through a link worker's hands to completion, seen by its referrer at
each step; a coordinator assigning a referral nobody could take; a refused referral corrected
and resubmitted. Every page is screenshotted at phone width and checked with axe-core."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import PageChecks, chromium, phone_context, reload_until
from tests.support.credentials import CVA
from tests.support.fixtures import FIXTURES
from tests.support.kafka_io import publish_events
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example, without_consent

pytestmark = pytest.mark.infra

TAG = "-WEB"
JOURNEY_REF = f"CVA-2026-000187{TAG}"  # Croydon, Twi: goes to lw-cr-twi (see the walking skeleton)
MERTON_REF = f"CVA-2026-000187{TAG}-M"  # Merton: nobody in the roster covers it
REFUSED_REF = f"CVA-2026-000187{TAG}-R"  # no consent: refused at intake

DEMO_DIRECTORY = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "swl-services.oruk.json"
DEMO_USERS = [
    {"role": "link_worker", "subject": "lw-cr-twi", "name": "Kwame Test"},
    {"role": "link_worker", "subject": "lw-cr-en", "name": "Jane Test"},
    {
        "role": "coordinator",
        "subject": "coord-south",
        "name": "South coordinator",
        "boroughs": ["Croydon", "Merton"],
    },
    {
        "role": "agency",
        "subject": CVA,
        "name": "Croydon Voluntary Action",
        "organisation": CVA,
        "sources": ["community"],
    },
    {  # the community organisation of the demo directory that runs carers' services in CR7
        "role": "organisation",
        "subject": "org-croydon-mind",
        "name": "Croydon Mind",
        "organisation": "17d2deba-c6ea-5209-8a87-9589b2204a6a",
    },
]
ONWARD_SERVICE = "Time Out for Carers Thornton Heath"  # Croydon Mind's, in the demo directory


@dataclass(frozen=True)
class Hub:
    services: dict[str, ServiceProcess]
    web: ServiceProcess


def send(stack: IsolatedStack, folder: Path, name: str, body: bytes) -> None:
    """Publish a referral on referrals.inbound.community, as the agency's system would."""
    path = folder / name
    path.write_bytes(body)
    run_cli(stack.env(), "referrals", "send", "community", str(path))


@pytest.fixture(scope="module")
def hub(stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    logs = tmp_path_factory.mktemp("service-logs")
    with running_hub(stack.env(), logs) as services:
        assert "published 3 link workers" in run_cli(
            stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv")
        )
        web = ServiceProcess(
            "web",
            {
                **stack.env(),
                "INTAKE_URL": services["intake"].url,
                "ROUTER_URL": services["router"].url,
                "NOTIFIER_URL": services["notifier"].url,
                "WEB_DEMO_USERS": json.dumps(DEMO_USERS),
            },
            logs,
        ).start()
        try:  # from here on, a failure (a timeout, say) must still stop the web app
            # The demo services directory, for the worker to find a service in (the router loads
            # it from directory.services while the rest starts).
            run_cli(stack.env(), "directory", "import", str(DEMO_DIRECTORY))
            # While the browser starts: the referrals the tests follow, as their agency sends them.
            folder = tmp_path_factory.mktemp("referrals")
            send(stack, folder, "journey.json", example("community", TAG))
            send(
                stack,
                folder,
                "merton.json",
                example("community", f"{TAG}-M").replace(b"CR7 8RS", b"SW19 2AB"),
            )
            send(stack, folder, "refused.json", without_consent("community", f"{TAG}-R"))
            yield Hub(services, web)
        finally:
            web.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageChecks]:
    found = PageChecks(tmp_path_factory.mktemp("screenshots"))
    yield found
    found.write_report()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = phone_context(browser)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, hub: Hub, name: str) -> None:
    page.goto(f"{hub.web.url}/login")
    page.get_by_role("button", name=f"Sign in as {name}").click()
    expect(page.get_by_text(name, exact=True)).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def referrer_sees(page: Page, hub: Hub, reference: str, milestone: str) -> None:
    page.goto(f"{hub.web.url}/referrer")
    reload_until(page, f'li.card[data-referral="{reference}"] [aria-current="step"]', milestone)


def fill_ons4(page: Page, prefix: str, scores: tuple[int, int, int, int]) -> None:
    for name, score in zip(("satisfied", "worthwhile", "happy", "anxious"), scores, strict=True):
        page.locator(f"#{prefix}-{name}").fill(str(score))


def test_referral_goes_from_agency_to_completed_and_its_referrer_sees_each_step(
    hub: Hub, browser: Browser, checks: PageChecks
) -> None:
    worker_context, referrer_context = phone_context(browser), phone_context(browser)
    worker, referrer = worker_context.new_page(), referrer_context.new_page()
    try:
        # Sign in by keyboard alone: the skip link comes first, and focus is visible.
        worker.goto(f"{hub.web.url}/login")
        checks.check(worker, "01-sign-in")
        worker.keyboard.press("Tab")
        focused = worker.evaluate(
            "[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]"
        )
        assert focused == ["Skip to main content", "solid"]
        for _ in range(10):
            worker.keyboard.press("Tab")
            if worker.evaluate("document.activeElement.textContent") == "Sign in as Kwame Test":
                break
        worker.keyboard.press("Enter")
        expect(worker.get_by_role("heading", name="Offers for you")).to_be_visible()

        # The offer reaches the right link worker's inbox.
        offer = worker.locator("li.card", has_text=JOURNEY_REF)
        for _ in range(40):
            if offer.count():
                break
            worker.wait_for_timeout(250)
            worker.reload()
        expect(offer).to_be_visible()
        # What matters for taking it on: needs, language (an interpreter), risk, area; who
        # sent it, and by when to answer.
        expect(offer).to_contain_text("Carer support")
        expect(offer).to_contain_text("Twi (interpreter needed)")
        expect(offer.get_by_role("heading")).to_contain_text("Community referral from")
        expect(offer).to_contain_text("Answer by")
        expect(offer).to_contain_text("CR7")
        checks.check(worker, "02-worker-inbox")
        sign_in(referrer, hub, "Croydon Voluntary Action")
        referrer_sees(referrer, hub, JOURNEY_REF, "Offered to a link worker")
        checks.check(referrer, "03-referrer-offered")

        offer.get_by_role("button", name=re.compile("^Accept")).click()
        expect(worker.get_by_role("status")).to_contain_text("Offer accepted")
        checks.check(worker, "04-worker-referral-accepted")
        referrer_sees(referrer, hub, JOURNEY_REF, "Accepted by a link worker")

        # Accepted, the worker reads whom to contact (once the notifier has the new Task
        # version), then records the care and support plan agreed with the person.
        person = worker.locator("#person-heading")
        for _ in range(40):
            if person.count():
                break
            worker.wait_for_timeout(250)
            worker.reload()
        expect(person).to_be_visible()
        expect(worker.locator("section", has=person)).to_contain_text("interpreter needed")
        expect(worker.locator("section", has=person).locator("a[href^='tel:']")).to_be_visible()
        worker.locator("#plan-what-matters").fill("Time for herself; her mother's care sorted.")
        worker.locator("#goal-0-description").fill("A morning a week for herself")
        worker.locator("#goal-0-need").select_option("carer-support")
        worker.locator("#action-0-description").fill("Ask the carers' centre about respite")
        worker.locator("#action-0-by").select_option("link-worker")
        worker.get_by_role("button", name="Save the plan").click()
        expect(worker.get_by_role("table", name="Goals")).to_contain_text("A morning a week")
        checks.check(worker, "04b-worker-care-plan")

        # Finding a service: the referral's needs first, near the person's district.
        worker.get_by_role("link", name="Find a service for this referral").click()
        expect(worker.get_by_role("heading", name="Find a service")).to_be_visible()
        expect(worker.locator("input[name=need][value=carer-support]")).to_be_checked()
        reload_until(worker, "ul.cards li.card", "Why it matches", timeout=60)
        first = worker.locator("ul.cards li.card").first
        expect(first).to_contain_text("Meets the need: Carer support")
        expect(first).to_contain_text("from the centre of CR7")
        checks.check(worker, "04c-worker-find-a-service")
        worker.get_by_label("Distance").select_option("2")
        worker.get_by_label("Sat", exact=True).check()
        worker.get_by_role("button", name="Search").click()
        expect(worker.get_by_role("heading", name=re.compile("services? found"))).to_be_visible()
        checks.check(worker, "04d-worker-find-a-service-filtered")
        worker.get_by_role("link", name="Back to the referral").click()

        fill_ons4(worker, "fc", (4, 5, 3, 7))
        worker.get_by_label("Note (optional").fill("Met at the carers' drop-in.")
        worker.get_by_role("button", name="Record first contact").click()
        expect(worker.get_by_role("status")).to_contain_text("First contact")
        expect(worker.locator("#current-status")).to_contain_text("In progress")
        referrer_sees(referrer, hub, JOURNEY_REF, "First contact made")
        checks.check(referrer, "05-referrer-first-contact")

        # Through the statuses with a note: on hold (a note is required), then back.
        worker.get_by_label("New status").select_option("on-hold")
        worker.get_by_label("Note", exact=True).fill("Away visiting family for a week.")
        worker.get_by_role("button", name="Save progress").click()
        expect(worker.locator("#current-status")).to_contain_text("On hold")
        worker.get_by_label("New status").select_option("in-progress")
        worker.get_by_label("Note", exact=True).fill("Back; meeting on Thursday.")
        worker.get_by_role("button", name="Save progress").click()
        expect(worker.locator("#current-status")).to_contain_text("In progress")
        checks.check(worker, "06-worker-referral-in-progress")

        # Onward: the worker refers the person to a carers' service, with their consent; the
        # organisation answers in its inbox and says the person came; the worker sees each step.
        referral_url = worker.url.split("?")[0]
        worker.goto(f"{referral_url}/services?search=yes&need=carer-support&text=Time+Out+Carers")
        card = worker.locator("ul.cards li.card", has_text=ONWARD_SERVICE).first
        card.locator("summary").click()
        card.get_by_label(re.compile("The person agreed")).check()
        card.get_by_label("How they agreed").select_option("verbal")
        card.get_by_label("The need it is for").select_option("carer-support")
        card.get_by_label("A note for the service").fill("Prefers mornings.")
        checks.check(worker, "06a-worker-refer-onward")
        card.get_by_role("button", name="Send the referral").click()
        expect(worker.get_by_role("status")).to_contain_text("Onward referral sent")
        onward = worker.locator("section", has=worker.locator("#onward-heading"))
        expect(onward).to_contain_text("Requested: waiting for the service to answer")
        expect(onward).to_contain_text("Croydon Mind")
        checks.check(worker, "06b-worker-onward-requested")

        organisation_context = phone_context(browser)
        organisation = organisation_context.new_page()
        try:
            sign_in(organisation, hub, "Croydon Mind")
            new = organisation.locator("section", has=organisation.locator("#new-heading"))
            expect(new).to_contain_text("Referral sent")
            checks.check(organisation, "06c-organisation-inbox")
            new.get_by_role("link").first.click()
            expect(organisation.locator("dl.facts")).to_contain_text("Prefers mornings.")
            expect(organisation.locator("dl.facts")).to_contain_text(ONWARD_SERVICE)
            checks.check(organisation, "06d-organisation-referral")
            organisation.get_by_role("button", name="Accept").click()
            expect(organisation.get_by_role("status")).to_contain_text("Referral accepted")
            organisation.get_by_label("Attended", exact=True).check()
            organisation.get_by_role("button", name="Record attendance").click()
            expect(organisation.get_by_role("status")).to_contain_text("Attendance recorded")
            expect(organisation.locator("#onward-status")).to_contain_text("Attended")
            checks.check(organisation, "06e-organisation-attended")
        finally:
            organisation_context.close()
        worker.goto(referral_url)
        expect(onward).to_contain_text("Attended")
        checks.check(worker, "06f-worker-onward-attended")

        fill_ons4(worker, "cl", (7, 8, 6, 3))
        for row, (need, service, kind) in enumerate(
            (
                ("carer-support", "Thornton Heath carers' café", "attended"),
                ("carer-support", "Croydon Carers Centre", "referred"),
            ),
            start=1,
        ):
            worker.locator(f"#su-{row}-need").select_option(need)
            worker.locator(f"#su-{row}-service").fill(service)
            worker.locator(f"#su-{row}-kind").select_option(kind)
        worker.get_by_label("Summary of the outcome").fill("Attends the café weekly.")
        worker.get_by_role("button", name="Complete the referral").click()
        expect(worker.locator("#current-status")).to_contain_text("Completed")
        expect(worker.get_by_role("table", name=re.compile("at first contact"))).to_contain_text(
            "7"
        )
        expect(worker.get_by_role("table", name=re.compile("at closure"))).to_contain_text("8")
        expect(worker.locator("table.support")).to_contain_text("Croydon Carers Centre")
        # The person's own wellbeing change, drawn (and checked with axe) at phone width.
        change = worker.locator("#wellbeing-change")
        expect(change.locator("svg.chart-svg")).to_have_count(1)
        expect(change).to_contain_text("Life satisfaction at first contact: 4 of 10")
        expect(change).to_contain_text("Life satisfaction at closure: 7 of 10")
        checks.check(worker, "07-worker-referral-completed")
        referral_id = worker.locator("dt:text-is('Hub referral id') + dd code").inner_text()
        coordinator_context = phone_context(browser)
        try:
            coordinator = coordinator_context.new_page()
            sign_in(coordinator, hub, "South coordinator")
            coordinator.goto(f"{hub.web.url}/coordinator/referrals/{referral_id}")
            expect(coordinator.locator("#person-heading")).to_be_visible()
            expect(coordinator.locator("#wellbeing-change svg.chart-svg")).to_have_count(1)
            checks.check(coordinator, "07b-coordinator-referral")
        finally:
            coordinator_context.close()
        worker.goto(f"{hub.web.url}/worker/caseload")
        expect(worker.locator("#status-closed")).to_be_visible()
        checks.check(worker, "08-worker-caseload")

        referrer_sees(referrer, hub, JOURNEY_REF, "Completed")
        card = referrer.locator(f'li.card[data-referral="{JOURNEY_REF}"]')
        for milestone in ("Referral received", "Offered", "Accepted", "First contact", "Completed"):
            expect(card.locator("li.reached", has_text=milestone)).to_have_count(1)
        checks.check(referrer, "09-referrer-completed")
        card.get_by_role("link").click()
        expect(referrer.get_by_text("Completed").first).to_be_visible()
        # The referrer sees the steps; not the person's scores, the notes or the casework (the
        # services they joined go to the GP practice alone, in the message back).
        for private in (
            "ONS4",
            "Attends the café",
            "visiting family",
            "carers' drop-in",
            "Croydon Carers Centre",
        ):
            assert private not in referrer.content()
        checks.check(referrer, "10-referrer-referral")
    finally:
        worker_context.close()
        referrer_context.close()


def test_coordinator_assigns_a_referral_nobody_could_take(
    hub: Hub, page: Page, checks: PageChecks, stack: IsolatedStack
) -> None:
    sign_in(page, hub, "South coordinator")
    waiting = page.locator("li.card", has_text="SW19, Merton")
    for _ in range(40):
        if waiting.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(waiting).to_contain_text("No link worker could take it")
    # Workers by name, with their load, the best fit first; why each cannot take it.
    expect(waiting).to_contain_text(
        "Does not cover the person's area: Jane Test, Kwame Test, Ola Test"
    )
    choices = waiting.get_by_label("Offer to link worker").locator("option")
    expect(choices.nth(1)).to_contain_text("open,")
    expect(choices.nth(1)).to_contain_text("new today")
    assert "lw-" not in waiting.get_by_label("Offer to link worker").inner_text()
    checks.check(page, "11-coordinator-waiting")

    waiting.get_by_label("Offer to link worker").select_option("lw-cr-en")
    waiting.get_by_role("button", name=re.compile("^Offer")).click()
    expect(page.get_by_role("status")).to_contain_text("offered to the link worker you chose")
    expect(page.locator("li.card", has_text="SW19, Merton")).to_have_count(0)
    checks.check(page, "12-coordinator-assigned")

    page.goto(f"{hub.web.url}/coordinator/charts")
    caseload = page.get_by_role("img", name=re.compile("^Open referrals per link worker"))
    expect(caseload).to_contain_text("Jane Test")
    checks.check(page, "13-coordinator-charts")

    # A service level breach in Merton, as the router's sweep publishes it.
    alert = {
        "alert": "sla-breach",
        "rule": "first-contact",
        "level": "escalated",
        "referralId": f"{TAG}-late",
        "task": f"Task/{TAG}-late",
        "borough": "Merton",
        "dueAt": "2026-12-08T00:00:00+00:00",
        "raisedAt": "2026-12-08T00:05:00+00:00",
    }
    publishing = publish_events(
        stack.kafka_bootstrap_servers,
        stack.topics.alerts,
        [(alert["referralId"], alert, "SlaBreached")],
    )
    with ThreadPoolExecutor(1) as thread:  # away from the browser's own event loop
        thread.submit(asyncio.run, publishing).result()
    page.goto(f"{hub.web.url}/coordinator/alerts")
    reload_until(page, "table.alerts caption", "Escalated referrals")
    expect(page.get_by_role("row", name=re.compile(f"{TAG}-late"))).to_contain_text("Merton")
    checks.check(page, "13b-coordinator-alerts")
    sign_out(page)

    sign_in(page, hub, "Jane Test")
    expect(page.locator("li.card", has_text=MERTON_REF)).to_be_visible()
    checks.check(page, "14-assigned-worker-inbox")


def test_coordinator_decides_whether_two_referrals_are_one_person(
    hub: Hub, page: Page, checks: PageChecks
) -> None:
    """The Merton referral is the journey's person with another postcode: alike enough to ask
    (every other field agrees), not enough to link alone. The coordinator of both boroughs
    sees them side by side and links them."""
    sign_in(page, hub, "South coordinator")
    page.goto(f"{hub.web.url}/coordinator/people")
    reload_until(page, "main", "% alike")
    pair = page.locator("li.card", has_text="% alike").first
    expect(pair).to_contain_text("SW19")
    expect(pair).to_contain_text("CR7")
    checks.check(page, "13c-coordinator-same-person")
    pair.get_by_role("button", name=re.compile("^Same person")).click()
    expect(page.get_by_role("status")).to_contain_text("Linked")
    checks.check(page, "13d-coordinator-same-person-linked")
    sign_out(page)


def test_referrer_corrects_and_resubmits_a_refused_referral(
    hub: Hub, page: Page, checks: PageChecks
) -> None:
    sign_in(page, hub, "Croydon Voluntary Action")
    reload_until(page, "#rejected-heading", "(1)")
    refused = page.locator("li.card-warning", has_text=REFUSED_REF)
    expect(refused).to_contain_text("consent")
    checks.check(page, "15-referrer-refused")

    refused.get_by_role("link", name=re.compile("^Correct and resubmit")).click()
    expect(page.get_by_role("heading", name=re.compile("What was wrong"))).to_be_visible()
    # What was sent, field by field, filled in; the refused field marked, with why in words.
    expect(page.get_by_label("Person given name")).to_have_value("Gloria")
    consent = page.get_by_label("Consent", exact=True)
    expect(consent).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-consent-problem")).to_contain_text("Consent is missing.")
    expect(page.get_by_label("Person given name")).not_to_have_attribute("aria-invalid", "true")
    checks.check(page, "16-referrer-correction-form")
    consent.select_option("yes")
    page.get_by_role("button", name="Send the corrected referral").click()
    expect(page.get_by_role("status")).to_contain_text("Accepted")
    checks.check(page, "16b-referrer-resubmitted")
    page.get_by_role("link", name="Follow its progress").click()
    reload_until(page, ".timeline", "Offered to a link worker")


def test_pages_need_a_session_and_forms_need_their_csrf_token(hub: Hub) -> None:
    with httpx.Client(base_url=hub.web.url, follow_redirects=False) as client:
        assert client.get("/worker").headers["location"] == "/login"
        login = client.get("/login")
        assert "default-src 'none'" in login.headers["content-security-policy"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf is not None
        answer = client.post("/login", data={"csrf": csrf[1], "user": "lw-cr-twi"})
        cookie = answer.headers["set-cookie"]
        assert "hub_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.post("/worker/referrals/x/accept", data={}).status_code == 403
        assert client.get("/coordinator").status_code == 403  # a link worker's session
        assert (
            client.post("/login", data={"csrf": "forged", "user": "lw-cr-twi"}).status_code == 403
        )


def test_a_missing_page_and_a_forms_address_keep_the_way_back(
    hub: Hub, page: Page, checks: PageChecks
) -> None:
    sign_in(page, hub, "Jane Test")
    answer = page.goto(f"{hub.web.url}/worker/no-such-page")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    checks.check(page, "17-page-not-found")
    page.get_by_role("main").get_by_role("link", name="Caseload").click()
    expect(page).to_have_url(f"{hub.web.url}/worker/caseload")
    # A form's address opened by GET (a reload after a refused post): the form's own page.
    page.goto(f"{hub.web.url}/worker/referrals/some-referral/decline")
    expect(page).to_have_url(f"{hub.web.url}/worker/referrals/some-referral")
    icon = httpx.get(f"{hub.web.url}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
