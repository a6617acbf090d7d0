"""Every protected endpoint x every kind of caller, against the running hub: an agency never
sees another's referral, a link worker sees only their own Tasks, a coordinator only their
boroughs, and nobody gets in without valid credentials."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from hub_common.auth import Principal, issue_token
from tests.support.credentials import CVA
from tests.support.fixtures import FIXTURES
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example

pytestmark = pytest.mark.infra

POLICE = "https://referral-hub.org/fhir/Id/agency|police:metropolitan-police-service"
CALLERS = {
    "agency A": Principal("agency", CVA, organisation=CVA, sources=("community",)),
    "agency B": Principal("agency", POLICE, organisation=POLICE, sources=("police",)),
    "link worker (owner)": Principal("link_worker", "lw-cr-twi"),
    "another link worker": Principal("link_worker", "lw-sm-pl"),
    "coordinator, Croydon": Principal("coordinator", "coord-croydon", boroughs=("Croydon",)),
    "coordinator, Sutton": Principal("coordinator", "coord-sutton", boroughs=("Sutton",)),
    "operator": Principal("operator", "ops"),
    # A community organisation of the services directory (runs no service in this test).
    "organisation": Principal("organisation", "org-user", organisation="org-none"),
}
ANONYMOUS, EXPIRED = "no credentials", "expired credentials"

# (service, method, path template, expected answer per caller); {id} is the test referral.
MATRIX: list[tuple[str, str, str, dict[str, int]]] = [
    # The person: the owner reads it once they accept (below), not while it is only offered.
    ("notifier", "GET", "/fhir/ServiceRequest/{id}", {
        "agency A": 200, "agency B": 404, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403}),
    ("notifier", "GET", "/fhir/Task/{id}", {
        "agency A": 200, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403}),
    # The message back document is the referring GP practice's alone; a community referral has
    # none (the GP practice's own read is in tests/integration/test_notifier_message_back_document.py).
    ("notifier", "GET", "/fhir/Bundle/{id}-accepted", {
        "agency A": 404, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    ("router", "GET", "/fhir/Task/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403}),
    ("router", "POST", "/fhir/Task/{id}/$decline", {
        "agency A": 403, "agency B": 403, "another link worker": 404,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    ("router", "POST", "/fhir/Task/{id}/$cancel", {
        "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    # No plan is recorded while the referral is only offered: 404 for those who may read one.
    ("router", "GET", "/fhir/CarePlan/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403}),
    ("router", "POST", "/fhir/Task/{id}/$care-plan", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 409, "another link worker": 404,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    ("router", "GET", "/coordination/waiting", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403}),
    ("router", "GET", "/coordination/workers", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403}),
    # The services directory (no personal data) for workers, coordinators and organisations;
    # naming a referral reads the person's district, so only those who may see it may name it.
    ("router", "GET", "/fhir/HealthcareService", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 200,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403,
        "organisation": 200}),
    ("router", "GET", "/fhir/HealthcareService?referral={id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403,
        "organisation": 404}),
    ("router", "GET", "/fhir/HealthcareService/no-such-service", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403,
        "organisation": 404}),
    # Only an organisation states capacity, and only of its own services (checked with real
    # services in tests/integration/test_directory_search.py).
    ("router", "POST", "/fhir/HealthcareService/no-such-service/$capacity", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    ("intake", "POST", "/referrals/community", {
        "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    # BaRS messages: agencies allowed to send FHIR only (neither caller here may); an agency
    # changing another's referral is refused as not found (tests/e2e/test_bars_messages.py).
    ("intake", "POST", "/fhir/$process-message", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403}),
    # Service level alerts: ids only, a coordinator's own boroughs (the scoping is checked with
    # real alerts in tests/integration/test_sla_alerts.py).
    ("notifier", "GET", "/coordination/alerts", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403}),
    # One person's other referrals: the owner once they accept (below), their borough's
    # coordinators; the pairs to decide and the decisions: coordinators of both referrals'
    # boroughs (real pairs in tests/integration/test_notifier_same_person.py).
    ("notifier", "GET", "/people/referrals/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403}),
    ("notifier", "GET", "/coordination/people/reviews", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403}),
    ("notifier", "POST", "/coordination/people/reviews/no-such-review/$confirm", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403}),
    ("notifier", "POST", "/coordination/people/reviews/no-such-review/$split", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403}),
    ("notifier", "GET", "/operator/dead-letters", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 200}),
    ("notifier", "GET", "/audit", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 200}),
    ("notifier", "GET", "/audit?resource={id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 200}),
]  # fmt: skip


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("authz")) as running:
        yield running


def headers(stack: IsolatedStack, caller: str) -> dict[str, str]:
    if caller == ANONYMOUS:
        return {}
    if caller == EXPIRED:
        token = issue_token(
            stack.auth_secret, CALLERS["agency A"], ttl_seconds=60, now=time.time() - 7200
        )
    else:
        token = issue_token(stack.auth_secret, CALLERS[caller])
    return {"Authorization": f"Bearer {token}"}


async def test_authorization_matrix(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    run_cli(stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv"))
    await asyncio.sleep(1.0)
    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.inbound("community"),
        example("community", "-AUTHZ"),
        key="authz",
    )
    [task] = await collect(
        stack.kafka_bootstrap_servers, stack.topics.tasks, lambda seen: len(seen) >= 1
    )
    referral_id = task["id"]
    assert task["owner"]["reference"] == "PractitionerRole/lw-cr-twi"
    await asyncio.sleep(2.0)  # the notifier records it

    checked, wrong = 0, []
    async with httpx.AsyncClient(timeout=10.0) as client:
        for service, method, template, expected in MATRIX:
            path = template.format(id=referral_id)
            for caller in [*CALLERS, ANONYMOUS, EXPIRED]:
                want = 401 if caller in (ANONYMOUS, EXPIRED) else expected.get(caller)
                if want is None:
                    continue  # a call that would change state for a caller allowed to make it
                body = (
                    b'{"reason": "matrix", "whatMatters": "matrix"}' if method == "POST" else None
                )
                if template.startswith("/referrals/"):
                    body = example("community", f"-AUTHZ-{checked}")
                answer = await client.request(
                    method,
                    f"{services[service].url}{path}",
                    content=body,
                    headers={"Content-Type": "application/json", **headers(stack, caller)},
                )
                checked += 1
                if answer.status_code != want:
                    wrong.append((service, method, template, caller, want, answer.status_code))
    print(f"\nauthorization matrix: {checked} cases checked")
    assert wrong == [], "\n".join(map(str, wrong))

    # Once the owner accepts, they (and only they, among link workers) read the person.
    async with httpx.AsyncClient(timeout=10.0) as client:
        accepted = await client.post(
            f"{services['router'].url}/fhir/Task/{referral_id}/$accept",
            headers=headers(stack, "link worker (owner)"),
        )
        assert accepted.status_code == 200, accepted.text
        person = f"{services['notifier'].url}/fhir/ServiceRequest/{referral_id}"
        deadline = time.monotonic() + 15
        while True:
            owner = await client.get(person, headers=headers(stack, "link worker (owner)"))
            if owner.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)  # the notifier hears of the acceptance from the Task
        other = await client.get(person, headers=headers(stack, "another link worker"))
        same_person = f"{services['notifier'].url}/people/referrals/{referral_id}"
        owner_people = await client.get(same_person, headers=headers(stack, "link worker (owner)"))
        other_people = await client.get(same_person, headers=headers(stack, "another link worker"))
    assert (owner.status_code, other.status_code) == (200, 404)
    assert (owner_people.status_code, other_people.status_code) == (200, 404)
