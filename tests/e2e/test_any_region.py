"""Any region (issue 16, part 6): the hub run for a second area, loaded from a file, on real Kafka
and PostgreSQL with each service a process. The demo's own postcodes are refused naming the
configured area; the region's are accepted and routed to its link workers by its boroughs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub_cli.main import main
from hub_common.region.service_area import SERVICE_AREA_ENV
from tests.support.credentials import agency_token, bearer
from tests.support.fixtures import FIXTURES, inbound
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

REGION = FIXTURES / "service-area-manchester.json"
AREA = "Greater Manchester (test region)"
ROSTER = """worker_id,name,boroughs,postcode_districts,needs,languages,working_days,risk_cleared
lw-sal-1,Sal Test,Salford,M5;M6,carer-support,en;tw,Mon;Tue;Wed;Thu;Fri;Sat;Sun,Y
lw-man-1,Man Test,Manchester,M1;M2,carer-support,en;tw,Mon;Tue;Wed;Thu;Fri;Sat;Sun,Y
"""


def region_env(stack: IsolatedStack) -> dict[str, str]:
    return {**stack.env(), SERVICE_AREA_ENV: str(REGION)}


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    """Intake and router, both given the region's file (the notifier plays no part here)."""
    logs = tmp_path_factory.mktemp("region-logs")
    running = {name: ServiceProcess(name, region_env(stack), logs) for name in ("intake", "router")}
    try:
        for process in running.values():
            process.start()
        yield running
    finally:
        for process in running.values():
            process.stop()


def community(form_id: str, postcode: str) -> bytes:
    document = json.loads(inbound("community-referral.json"))
    document["form_id"] = form_id
    document["person"]["postcode"] = postcode
    return json.dumps(document).encode()


async def test_a_second_region_refuses_the_demo_area_and_routes_its_own(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in region_env(stack).items():
        monkeypatch.setenv(name, value)
    roster = tmp_path / "manchester.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    # The CLI reads the same file: the region's boroughs are known, the demo's are not.
    south_west = tmp_path / "swl.csv"
    south_west.write_text(ROSTER.replace("Salford,M5;M6", "Croydon,CR0"), encoding="utf-8")
    assert await asyncio.to_thread(main, ["workers", "load", "--check", str(south_west)]) == 1
    assert "row 2, column boroughs: unknown borough 'Croydon'" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["workers", "load", "--quiet", str(roster)]) == 0
    assert "published 2 link workers" in capsys.readouterr().out

    # On Kafka: a South West London postcode is refused, the refusal naming this area.
    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.inbound("community"),
        community("REGION-SWL-1", "SW18 4EQ"),
        key="REGION-SWL-1",
    )
    [refused] = [
        event
        for event in await collect(
            stack.kafka_bootstrap_servers,
            stack.topics.rejected,
            lambda seen: any(e["referrerReference"] == "REGION-SWL-1" for e in seen),
        )
        if event["referrerReference"] == "REGION-SWL-1"
    ]
    [issue] = [i for i in refused["outcome"]["issue"] if i["severity"] == "error"]
    assert issue["expression"] == ["person.postcode"]
    assert issue["diagnostics"] == (
        f"postcode district SW18 is outside the service area '{AREA}', which the hub serves"
    )

    # Over HTTP: a Salford postcode is accepted, and the router offers it to Salford's worker.
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{services['intake'].url}/referrals/community",
            content=community("REGION-SAL-1", "M5 3AA"),
            headers={"Content-Type": "application/json", **bearer(agency_token(stack))},
        )
    assert answer.status_code == 202, answer.text
    referral_id = answer.json()["results"][0]["referral_id"]
    tasks = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.tasks,
        lambda seen: any(t["focus"]["reference"] == f"ServiceRequest/{referral_id}" for t in seen),
        timeout=60,
    )
    task = next(t for t in tasks if t["focus"]["reference"] == f"ServiceRequest/{referral_id}")
    assert task["owner"]["reference"] == "PractitionerRole/lw-sal-1", services["router"].tail()
    assert task["businessStatus"]["coding"][0]["code"] == "offered"
