"""Outcomes per community service for coordinators (issue 14, item 7): people connected,
the share who attended, wellbeing change; and no figure about fewer than five people."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import Timepoint, WellbeingMeasure
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from hub_web.domain.service_outcomes import attended_chart, outcomes_by_service
from hub_web.domain.tasks import task_view
from hub_web.domain.wellbeing_change import MIN_PEOPLE
from tests.support.web_fakes import SECRET, FakeHubApi, task
from tests.unit.test_web_wellbeing_change import ons4

NEED = NeedCategory.LONELINESS_ISOLATION


def connected(
    n: int, support: list[SupportOffered], *measures: WellbeingMeasure
) -> dict[str, object]:
    return task(
        f"r{n}",
        status="completed",
        step="connected-to-services",
        owner="lw-1",
        outcomes=Outcomes(measures=measures, support=tuple(support)),
    )


def lunch(kind: SupportKind) -> SupportOffered:
    return SupportOffered(NEED, kind, "Lunch club", "svc-lunch")


def choir(kind: SupportKind) -> SupportOffered:
    return SupportOffered(NEED, kind, "Choir", "svc-choir")


def tasks() -> list[dict[str, object]]:
    """Six people at the lunch club (four attended, five with both measures), two at the
    choir, one signposted to a walk (not connected) and one hand-recorded (no service id)."""
    lunch_club = [
        connected(
            n,
            [lunch(SupportKind.ATTENDED if n < 4 else SupportKind.REFERRED)],
            ons4(Timepoint.FIRST_CONTACT, 3, 8),
            ons4(Timepoint.CLOSURE, 3 + n, 6),
        )
        for n in range(MIN_PEOPLE)
    ]
    lunch_club.append(connected(9, [lunch(SupportKind.REFERRED), choir(SupportKind.ATTENDED)]))
    lunch_club.append(connected(10, [choir(SupportKind.ATTENDED)]))
    lunch_club.append(
        connected(11, [SupportOffered(NEED, SupportKind.SIGNPOSTED, "Walk", "svc-walk")])
    )
    lunch_club.append(connected(12, [SupportOffered(NEED, SupportKind.ATTENDED, "Bingo")]))
    return lunch_club


def test_per_service_people_attended_share_and_change() -> None:
    rows = {row.service: row for row in outcomes_by_service(task_view(t) for t in tasks())}
    assert set(rows) == {"Lunch club", "Choir"}  # signposted and unlisted services are not
    club = rows["Lunch club"]
    assert (club.people, club.attended_share) == (6, 4 / 6)
    # Five people with both measures: satisfaction changes 0..4 (mean 2), anxiety -2 each.
    assert (club.satisfied, club.anxious, club.swemwbs) == (2.0, -2.0, None)
    choir_row = rows["Choir"]
    assert choir_row.suppressed and choir_row.people == 2
    assert (choir_row.attended_share, choir_row.satisfied) == (None, None)
    chart = attended_chart(rows.values())
    assert [(r.label, r.total) for r in chart.rows] == [("Lunch club", 67)]


def test_a_mean_needs_five_people_with_both_measures() -> None:
    five_without_measures = [connected(n, [lunch(SupportKind.ATTENDED)]) for n in range(5)]
    [row] = outcomes_by_service(task_view(t) for t in five_without_measures)
    assert row.people == 5 and row.attended_share == 1.0
    assert (row.satisfied, row.anxious, row.swemwbs) == (None, None, None)


@pytest.fixture
async def coordinator() -> AsyncIterator[httpx.AsyncClient]:
    api = FakeHubApi()
    for resource in tasks():
        api.tasks[str(resource["id"])] = resource
    users = [{"role": "coordinator", "subject": "co-1", "name": "C", "boroughs": ["Merton"]}]
    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": users})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(settings, api)),
        base_url="http://testserver",
        follow_redirects=True,
    ) as client:
        login = (await client.get("/login")).text
        csrf = login.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await client.post("/login", data={"csrf": csrf, "user": "co-1"})
        yield client


async def test_the_charts_page_shows_them_with_small_services_suppressed(
    coordinator: httpx.AsyncClient,
) -> None:
    page = await coordinator.get("/coordinator/charts")
    assert page.status_code == 200
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
    assert "Outcomes per community service" in text
    assert "Lunch club 6 67% fewer than 5 measured +2.0 -2.0" in text
    assert "Choir fewer than 5 not shown" in text
    assert "People who attended, of those connected, per service" in text
