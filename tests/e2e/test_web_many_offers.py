"""A link worker's day with many offers, in Chromium at phone width with axe-core: sorted by
deadline, narrowed by need, each card saying who sent it and by when to answer; and the
webhook demo's page. The pages run against a stand-in of the hub's APIs (many offers at once
are hard to arrange on the real hub; tests/e2e/test_web_journeys.py walks the real one)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from hub_cli.webhook_demo import Delivery, DemoReceiver, receiver_app
from hub_notifier.domain.signature import sign
from hub_router.adapters.fhir_task import with_routing_inputs
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from tests.support.browser import PageChecks, chromium, phone_context
from tests.support.infra import free_port
from tests.support.web_fakes import SECRET, FakeHubApi, task
from tests.unit.test_web_pages import USERS
from tests.unit.test_webhook_demo import notification

OFFERS = (  # id, reference, source, organisation, hours to answer, needs, language
    ("a", "GP-2026-0113", "fhir", "Thornton Heath Surgery", 5, ["loneliness-isolation"], "pl"),
    ("b", "CVA-2026-0187", "community", "Croydon Voluntary Action", 30, ["carer-support"], "tw"),
    ("c", "MPS-2026-5521", "police", "Metropolitan Police Service", 50, ["housing"], "en"),
    ("d", "LFB-2026-0042", "fire", "London Fire Brigade", 20, ["loneliness-isolation"], "en"),
)


def serve(app: FastAPI) -> str:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageChecks]:
    found = PageChecks(tmp_path_factory.mktemp("screenshots"))
    yield found
    found.write_report()


def test_many_offers_sorted_by_deadline_and_narrowed_by_need(
    browser: Browser, checks: PageChecks
) -> None:
    now = datetime.now(UTC)
    api = FakeHubApi()
    for age, (rid, ref, source, org, hours, needs, language) in enumerate(OFFERS, start=1):
        api.tasks[rid] = task(
            rid,
            owner="lw-1",
            reference=ref,
            source=source,
            requester=org,
            deadline=(now + timedelta(hours=hours)).isoformat(),
            last_modified=(now - timedelta(hours=age)).isoformat(),
            inputs=with_routing_inputs(
                {}, {"needs": needs, "language": language, "district": "CR7"}
            )["input"],
        )
    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": USERS})
    url = serve(build_app(settings, api))
    context = phone_context(browser)
    try:
        page = context.new_page()
        page.goto(f"{url}/login")
        page.get_by_role("button", name="Sign in as Worker One").click()
        expect(page.get_by_role("heading", name="Offers for you")).to_be_visible()
        titles = page.locator("li.card h2").all_inner_texts()
        assert titles == [
            "GP referral from Thornton Heath Surgery",
            "Fire service referral from London Fire Brigade",
            "Community referral from Croydon Voluntary Action",
            "Police referral from Metropolitan Police Service",
        ]
        expect(page.locator("li.card").first).to_contain_text("Answer by")
        checks.check(page, "m1-worker-offers-sorted")

        page.get_by_label("Need").select_option("loneliness-isolation")
        page.get_by_role("button", name="Show offers").click()
        expect(page.locator("#offer-count")).to_have_text("Showing 2 of 4 offers.")
        expect(page.locator("li.card").first).to_contain_text("Polish")
        checks.check(page, "m2-worker-offers-filtered")
        page.get_by_label("Order").select_option("newest")
        page.get_by_label("Need").select_option("")
        page.get_by_role("button", name="Show offers").click()
        expect(page.locator("li.card h2").first).to_have_text(
            "GP referral from Thornton Heath Surgery"
        )
        expect(page.locator("li.card h2").last).to_have_text(  # offered longest ago
            "Fire service referral from London Fire Brigade"
        )
    finally:
        context.close()


def test_the_webhook_demo_page_shows_each_delivery_checked(
    browser: Browser, checks: PageChecks
) -> None:
    receiver = DemoReceiver(secret="s", subscription_id="sub-demo")
    for number, secret in ((1, "s"), (2, "forged")):
        body = notification(number, f"Task/r-{number}")
        stamp = int(time.time())
        receiver.deliveries.append(
            Delivery(datetime.now(UTC), str(stamp), sign(secret, stamp, body), body)
        )
    url = serve(receiver_app(receiver))
    assert httpx.get(url).status_code == 200
    context = phone_context(browser)
    try:
        page = context.new_page()
        page.goto(url)
        rows = page.get_by_role("row")
        expect(rows.nth(1)).to_contain_text("invalid: forged, altered or stale")
        expect(rows.nth(2)).to_contain_text("✔ valid")
        checks.check(page, "m3-webhook-demo")
    finally:
        context.close()
