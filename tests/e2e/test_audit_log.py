"""The audit log on the running hub: an agency submits and reads a referral, its link worker
reads and accepts it, and a coordinator then finds exactly those accesses (who, what, when,
from where, and nothing about the person) through the notifier's `GET /audit`. The table
itself refuses to be changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from hub_common.security.auth import Principal, issue_token
from tests.support.credentials import CVA, bearer
from tests.support.fixtures import FIXTURES
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example

pytestmark = pytest.mark.infra

AGENCY = Principal("agency", CVA, organisation=CVA, sources=("community",))
WORKER = Principal("link_worker", "lw-cr-twi", name="Kwame Test")
COORDINATOR = Principal("coordinator", "coord-croydon", boroughs=("Croydon",))
OPERATOR = Principal("operator", "ops")
# What the example referral says about the person and the referrer: never in an entry.
PERSONAL = ("Gloria", "Mensah", "Amina", "Rahman", "1972-07-08", "CR7 8RS", "Brigstock", "07700")
AGENCY_PROXY, WORKER_PROXY = "203.0.113.9", "198.51.100.23, 10.1.2.3"


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("audit")) as running:
        yield running


def as_(stack: IsolatedStack, who: Principal, forwarded_for: str | None = None) -> dict[str, str]:
    headers = bearer(issue_token(stack.auth_secret, who))
    return {**headers, "X-Forwarded-For": forwarded_for} if forwarded_for else headers


async def get_when_there(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    """Poll until the service has the resource (404s disclose nothing, so are not audited)."""

    async def found() -> Any:
        answer = await client.get(url, headers=headers)
        return answer.json() if answer.status_code == 200 else None

    return await eventually(found, timeout=30.0, what=url)


async def test_a_coordinator_finds_every_access_to_a_referral(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    intake, router, notifier = (services[n].url for n in ("intake", "router", "notifier"))
    run_cli(stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv"))
    started = datetime.now(UTC)
    agency = as_(stack, AGENCY, AGENCY_PROXY)
    worker = as_(stack, WORKER, WORKER_PROXY)
    async with httpx.AsyncClient(timeout=10.0) as client:
        submitted = await client.post(
            f"{intake}/referrals/community",
            content=example("community", "-AUDIT"),
            headers={**agency, "Content-Type": "application/json"},
        )
        assert submitted.status_code == 202, submitted.text
        referral_id = submitted.json()["results"][0]["referral_id"]

        await get_when_there(client, f"{notifier}/fhir/ServiceRequest/{referral_id}", agency)
        await get_when_there(client, f"{notifier}/fhir/Task/{referral_id}", agency)
        await get_when_there(client, f"{router}/fhir/Task/{referral_id}", worker)
        accepted = await client.post(f"{router}/fhir/Task/{referral_id}/$accept", headers=worker)
        assert accepted.status_code == 200, accepted.text

        coordinator = as_(stack, COORDINATOR)

        async def all_five() -> Any:
            answer = await client.get(
                f"{notifier}/audit", params={"resource": referral_id}, headers=coordinator
            )
            assert answer.status_code == 200, answer.text
            entries = answer.json()["entries"]
            return entries if len(entries) >= 5 else None

        entries = await eventually(all_five, timeout=30.0, what="five audit entries")
        finished = datetime.now(UTC)

        by_actor = await client.get(
            f"{notifier}/audit",
            params={"actor": WORKER.subject, "action": "update"},
            headers=coordinator,
        )
        before_the_test = await client.get(
            f"{notifier}/audit",
            params={"resource": referral_id, "until": started.isoformat()},
            headers=coordinator,
        )

    assert sorted(
        (
            e["service"],
            e["actor"]["role"],
            e["actor"]["subject"],
            e["action"],
            e["request"]["route"],
        )
        for e in entries
    ) == sorted(
        [
            ("intake", "agency", CVA, "create", "/referrals/{source}"),
            ("notifier", "agency", CVA, "read", "/fhir/ServiceRequest/{referral_id}"),
            ("notifier", "agency", CVA, "read", "/fhir/Task/{task_id}"),
            ("router", "link_worker", "lw-cr-twi", "read", "/fhir/Task/{task_id}"),
            ("router", "link_worker", "lw-cr-twi", "update", "/fhir/Task/{task_id}/$accept"),
        ]
    )
    ats = [datetime.fromisoformat(e["at"]) for e in entries]
    assert ats == sorted(ats, reverse=True), "newest first"
    for entry, at in zip(entries, ats, strict=True):
        assert started - timedelta(seconds=1) <= at <= finished
        assert entry["resourceIds"] == [referral_id]
        assert entry["request"]["peer"] == "127.0.0.1"
        proxy = AGENCY_PROXY if entry["actor"]["role"] == "agency" else WORKER_PROXY
        assert entry["request"]["forwardedFor"] == proxy
        assert entry["actor"]["organisation"] == (
            CVA if entry["actor"]["role"] == "agency" else None
        )
        assert entry["outcome"] in {"accepted", "200", "ok"}
    dumped = json.dumps(entries)
    assert not [word for word in (*PERSONAL, "Kwame") if word in dumped]

    assert by_actor.status_code == 200
    [update] = by_actor.json()["entries"]
    assert update["request"]["route"] == "/fhir/Task/{task_id}/$accept"
    assert before_the_test.json()["entries"] == []


async def test_a_report_download_is_audited_as_an_export(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    notifier = services["notifier"].url
    coordinator = as_(stack, COORDINATOR)
    async with httpx.AsyncClient(timeout=10.0) as client:
        report = await client.get(f"{notifier}/reports/referrals.csv", headers=coordinator)
        assert report.status_code == 200, report.text
        exported = [line.split(",")[0] for line in report.text.splitlines()[1:]]
        assert exported, "the referral of the first test is in the report"

        async def export_entry() -> Any:
            answer = await client.get(
                f"{notifier}/audit",
                params={"actor": COORDINATOR.subject, "action": "export"},
                headers=coordinator,
            )
            return answer.json()["entries"]

        [entry] = await eventually(export_entry, timeout=30.0, what="the export's audit entry")
    assert entry["resourceIds"] == exported
    assert (entry["service"], entry["resourceKind"], entry["request"]["route"]) == (
        "notifier",
        "ServiceRequest",
        "/reports/referrals.csv",
    )


async def test_only_coordinators_and_operators_read_the_audit_log(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    url = f"{services['notifier'].url}/audit"
    async with httpx.AsyncClient(timeout=10.0) as client:
        answers = {
            who.role: (await client.get(url, headers=as_(stack, who))).status_code
            for who in (AGENCY, WORKER, COORDINATOR, OPERATOR)
        }
        anonymous = (await client.get(url)).status_code
        too_many = await client.get(url, params={"limit": 5000}, headers=as_(stack, OPERATOR))
    assert answers == {"agency": 403, "link_worker": 403, "coordinator": 200, "operator": 200}
    assert anonymous == 401
    assert too_many.status_code == 422


async def test_postgresql_refuses_to_change_or_remove_audit_entries(stack: IsolatedStack) -> None:
    engine = create_async_engine(stack.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO notifier.audit_log (event_id, at, service, actor_role,"
                    " actor_subject, action, resource_type, resource_ids, method, route, outcome)"
                    " VALUES ('append-only-check', now(), 'test', 'operator', 'ops', 'read',"
                    " 'Task', ARRAY['r-1'], 'GET', '/fhir/Task/{task_id}', '200')"
                )
            )
        for statement in (
            "UPDATE notifier.audit_log SET actor_subject = 'someone else'",
            "DELETE FROM notifier.audit_log WHERE event_id = 'append-only-check'",
            "TRUNCATE notifier.audit_log",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
        async with engine.connect() as conn:
            kept = await conn.scalar(
                text(
                    "SELECT actor_subject FROM notifier.audit_log WHERE event_id = 'append-only-check'"
                )
            )
        assert kept == "ops"
    finally:
        await engine.dispose()
