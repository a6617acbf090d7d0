"""Every protected endpoint x every kind of caller, against the running hub: an agency never
sees another's referral, a link worker sees only their own Tasks, a coordinator only their
boroughs, a community organisation only the onward referrals sent to it, and nobody gets in
without valid credentials."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from hub_common.jsonio import dumps
from hub_common.region.directory import DirectoryService, Organisation, to_bundle
from hub_common.security.auth import Principal, issue_token
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
    "organisation A": Principal("organisation", "trust-user", organisation="org-authz-a"),
    "organisation B": Principal("organisation", "advice-user", organisation="org-authz-b"),
}
ORGS_403 = {"organisation A": 403, "organisation B": 403}
ORGS_404 = {"organisation A": 404, "organisation B": 404}
ANONYMOUS, EXPIRED = "no credentials", "expired credentials"

# (service, method, path template, expected answer per caller); {id} is the test referral.
MATRIX: list[tuple[str, str, str, dict[str, int]]] = [
    # The person: the owner reads it once they accept (below), not while it is only offered.
    ("notifier", "GET", "/fhir/ServiceRequest/{id}", {
        "agency A": 200, "agency B": 404, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403, **ORGS_403}),
    ("notifier", "GET", "/fhir/Task/{id}", {
        "agency A": 200, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403, **ORGS_403}),
    ("router", "GET", "/fhir/Task/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403, **ORGS_404}),
    # An accepted referral is no refusal: nothing to correct, even for its own agency.
    ("notifier", "GET", "/fhir/Task/{id}/$refused-message", {
        "agency A": 404, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    ("router", "POST", "/fhir/Task/{id}/$decline", {
        "agency A": 403, "agency B": 403, "another link worker": 404,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_404}),
    ("router", "POST", "/fhir/Task/{id}/$cancel", {
        "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    # No plan is recorded while the referral is only offered: 404 for those who may read one.
    ("router", "GET", "/fhir/CarePlan/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403, **ORGS_403}),
    ("router", "POST", "/fhir/Task/{id}/$care-plan", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 409, "another link worker": 404,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    ("router", "GET", "/coordination/waiting", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403, **ORGS_403}),
    ("intake", "POST", "/referrals/community", {
        "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    # FHIR writes: agencies whose credential may send FHIR only (A and B send other formats).
    ("intake", "POST", "/fhir/ServiceRequest", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    # Service level alerts: ids only, a coordinator's own boroughs (the scoping is checked with
    # real alerts in tests/integration/test_sla_alerts.py).
    ("notifier", "GET", "/coordination/alerts", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403, **ORGS_403}),
    ("notifier", "GET", "/operator/dead-letters", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 200, **ORGS_403}),
    # Subject access (issue 17): the operator alone, in every service; nobody doing casework.
    *[
        (service, "GET", path, {
            "agency A": 403, "agency B": 403, "link worker (owner)": 403,
            "another link worker": 403, "coordinator, Croydon": 403, "coordinator, Sutton": 403,
            "operator": 200, **ORGS_403})
        for service, path in (
            ("notifier", "/operator/subject-access/$match?referral={id}"),
            ("notifier", "/operator/subject-access?referral={id}"),
            ("router", "/operator/subject-access?referral={id}"),
            ("intake", "/operator/subject-access?referral={id}"),
        )
    ],
    # Erasure and restriction: operators only. The matrix body names nobody, so the operator's
    # call is refused as unreadable (422) and changes nothing; an unknown request is 404.
    ("notifier", "POST", "/operator/erasure", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 422, **ORGS_403}),
    ("notifier", "POST", "/operator/restriction", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 422, **ORGS_403}),
    ("notifier", "POST", "/operator/restriction/no-such-restriction/$lift", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 404, **ORGS_403}),
    ("notifier", "GET", "/operator/data-protection/no-such-request", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 404, **ORGS_403}),
    ("notifier", "GET", "/audit", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 200, **ORGS_403}),
    ("notifier", "GET", "/audit?resource={id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 200, **ORGS_403}),
    # Onward referral routes on a referral that is only offered: nothing to refer yet (a body
    # that is not an onward referral is 422 before anything is looked up), and no
    # organisation has anything of it.
    ("router", "POST", "/fhir/Task/{id}/$refer-onward", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 422, "another link worker": 422,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    ("router", "POST", "/fhir/Task/{id}/$accept", {
        "agency A": 403, "agency B": 403, "coordinator, Croydon": 403, "another link worker": 404,
        "coordinator, Sutton": 403, "operator": 403, **ORGS_404}),
    ("router", "GET", "/fhir/ServiceRequest/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_404}),
    ("router", "POST", "/fhir/Task/{id}/$attendance", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_404}),
    ("router", "GET", "/fhir/Task?part-of=Task/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403,
        "organisation A": 200, "organisation B": 200}),
    # The message back document is the referring GP practice's alone; a community referral has
    # none (the GP practice's own read is in tests/integration/test_notifier_message_back_document.py).
    ("notifier", "GET", "/fhir/Bundle/{id}-accepted", {
        "agency A": 404, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    ("router", "GET", "/coordination/workers", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403, **ORGS_403}),
    # The services directory (no personal data) for workers, coordinators and organisations;
    # naming a referral reads the person's district, so only those who may see it may name it.
    ("router", "GET", "/fhir/HealthcareService", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 200,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403,
        "organisation A": 200, "organisation B": 200}),
    ("router", "GET", "/fhir/HealthcareService?referral={id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403,
        "organisation A": 404, "organisation B": 404}),
    ("router", "GET", "/fhir/HealthcareService/no-such-service", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403,
        "organisation A": 404, "organisation B": 404}),
    # Only an organisation states capacity, and only of its own services (checked with real
    # services in tests/integration/test_directory_search.py).
    ("router", "POST", "/fhir/HealthcareService/no-such-service/$capacity", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403,
        # an organisation may state capacity: the matrix body is not a capacity, so 422
        "organisation A": 422, "organisation B": 422}),
    # BaRS messages: agencies allowed to send FHIR only (neither caller here may); an agency
    # changing another's referral is refused as not found (tests/e2e/test_bars_messages.py).
    ("intake", "POST", "/fhir/$process-message", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
    # One person's other referrals: the owner once they accept (below), their borough's
    # coordinators; the pairs to decide and the decisions: coordinators of both referrals'
    # boroughs (real pairs in tests/integration/test_notifier_same_person.py).
    ("notifier", "GET", "/people/referrals/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403, **ORGS_403}),
    ("notifier", "GET", "/coordination/people/reviews", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 200, "coordinator, Sutton": 200, "operator": 403, **ORGS_403}),
    ("notifier", "POST", "/coordination/people/reviews/no-such-review/$confirm", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403, **ORGS_403}),
    ("notifier", "POST", "/coordination/people/reviews/no-such-review/$split", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 404, "coordinator, Sutton": 404, "operator": 403, **ORGS_403}),
    # Subscriptions are their subscriber's alone: another's or an unknown one is not found,
    # and an update is read (400 for the matrix's empty body) before anything is looked up
    # (real subscriptions in tests/integration/test_subscription_lifecycle.py).
    ("notifier", "GET", "/fhir/Subscription/no-such-subscription", {
        "agency A": 404, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_404}),
    ("notifier", "PUT", "/fhir/Subscription/no-such-subscription", {
        "agency A": 400, "agency B": 400, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403,
        "organisation A": 400, "organisation B": 400}),
    ("notifier", "POST", "/fhir/Subscription/no-such-subscription/$rotate-secret", {
        "agency A": 404, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_404}),
    # Prometheus metrics: series about the service, never a person; operators only
    # (tests/e2e/test_metrics_alerts.py scrapes them with an operator token).
    *[(service, "GET", "/metrics", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 200, **ORGS_403})
      for service in ("intake", "router", "notifier")],
]  # fmt: skip

# Once the owner has referred the person on to organisation A's service: {id} is the onward
# referral. Organisation B, other link workers and other boroughs see nothing of it.
ONWARD_MATRIX: list[tuple[str, str, str, dict[str, int]]] = [
    ("router", "GET", "/fhir/Task/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 200, "another link worker": 404,
        "coordinator, Croydon": 200, "coordinator, Sutton": 404, "operator": 403,
        "organisation A": 200, "organisation B": 404}),
    ("router", "GET", "/fhir/ServiceRequest/{id}", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403,
        "organisation A": 200, "organisation B": 404}),
    ("router", "POST", "/fhir/Task/{id}/$accept", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403,
        "organisation B": 404}),
    ("router", "POST", "/fhir/Task/{id}/$decline", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 404, "another link worker": 404,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403,
        "organisation B": 404}),
    ("router", "POST", "/fhir/Task/{id}/$attendance", {
        "agency A": 403, "agency B": 403, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403,
        "organisation B": 404}),
]  # fmt: skip


# A referral of agency A refused at intake: {id} is the rejection. What was sent (personal
# data) goes back to the agency that sent it, to correct, and to nobody else.
REFUSED_MATRIX: list[tuple[str, str, str, dict[str, int]]] = [
    ("notifier", "GET", "/fhir/Task/{id}/$refused-message", {
        "agency A": 200, "agency B": 404, "link worker (owner)": 403, "another link worker": 403,
        "coordinator, Croydon": 403, "coordinator, Sutton": 403, "operator": 403, **ORGS_403}),
]  # fmt: skip


OPEN_METADATA = ("notifier", "router")


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

    checked, wrong = await check_matrix(stack, services, MATRIX, referral_id)
    print(f"\nauthorization matrix: {checked} cases checked")
    assert wrong == [], "\n".join(map(str, wrong))

    rejection_id = await refused_referral_of_agency_a(stack, services)
    refused_checked, refused_wrong = await check_matrix(
        stack, services, REFUSED_MATRIX, rejection_id
    )
    print(f"refused referral matrix: {refused_checked} cases checked")
    assert refused_wrong == [], "\n".join(map(str, refused_wrong))

    # The CapabilityStatements are open to anyone: a client reads them before it has a token.
    async with httpx.AsyncClient(timeout=10.0) as client:
        for service in OPEN_METADATA:
            answer = await client.get(f"{services[service].url}/fhir/metadata")
            assert answer.status_code == 200, (service, answer.text)
            assert answer.json()["resourceType"] == "CapabilityStatement"

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

    # The owner refers the person on to organisation A's service (from the directory topic).
    for org in ("a", "b"):
        service = DirectoryService(
            f"svc-authz-{org}",
            f"Service {org}",
            Organisation(f"org-authz-{org}", f"Organisation {org}"),
            feed="authz",
        )
        await publish(
            stack.kafka_bootstrap_servers,
            stack.topics.directory_services,
            dumps(to_bundle(service)),
            key=service.id,
        )
    body = {
        "service": "svc-authz-a",
        "need": "loneliness-isolation",
        "person": {"name": "Matrix Person", "phone": "020 7946 0000"},
        "consent": {"given": True, "recordedAt": "2026-11-23T10:00:00+00:00"},
    }
    async with httpx.AsyncClient(timeout=10.0) as client:
        deadline = time.monotonic() + 30
        while True:  # until the router has read the directory
            referred = await client.post(
                f"{services['router'].url}/fhir/Task/{referral_id}/$refer-onward",
                json=body,
                headers=headers(stack, "link worker (owner)"),
            )
            if referred.status_code != 422 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
    assert referred.status_code == 201, referred.text
    onward_checked, onward_wrong = await check_matrix(
        stack, services, ONWARD_MATRIX, referred.json()["id"]
    )
    print(f"onward authorization matrix: {onward_checked} cases checked")
    assert onward_wrong == [], "\n".join(map(str, onward_wrong))


async def refused_referral_of_agency_a(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> str:
    """Agency A sends a referral without consent; the rejection's id, once the notifier has it."""
    document = json.loads(example("community", "-AUTHZ-REFUSED"))
    document.pop("consent", None)
    async with httpx.AsyncClient(timeout=10.0) as client:
        sent = await client.post(
            f"{services['intake'].url}/referrals/community",
            content=dumps(document),
            headers={"Content-Type": "application/json", **headers(stack, "agency A")},
        )
        assert sent.json()["results"][0]["status"] == "rejected", sent.text
        ours = lambda r: r.get("referrerReference") == document["form_id"]  # noqa: E731
        refusals = await collect(
            stack.kafka_bootstrap_servers,
            stack.topics.rejected,
            lambda seen: any(ours(r) for r in seen),
        )
        rejection_id = str(next(r for r in refusals if ours(r))["rejectionId"])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # until the notifier has recorded it
            seen = await client.get(
                f"{services['notifier'].url}/fhir/Task/{rejection_id}",
                headers=headers(stack, "agency A"),
            )
            if seen.status_code == 200:
                break
            await asyncio.sleep(0.2)
    return rejection_id


async def check_matrix(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    matrix: list[tuple[str, str, str, dict[str, int]]],
    resource_id: str,
) -> tuple[int, list[tuple[str, str, str, str, int | None, int]]]:
    """Every caller against every route of `matrix` ({id} is `resource_id`): how many calls,
    and those answered otherwise than expected."""
    checked, wrong = 0, []
    async with httpx.AsyncClient(timeout=10.0) as client:
        for service, method, template, expected in matrix:
            path = template.format(id=resource_id)
            for caller in [*CALLERS, ANONYMOUS, EXPIRED]:
                want = 401 if caller in (ANONYMOUS, EXPIRED) else expected.get(caller)
                if want is None:
                    continue  # a call that would change state for a caller allowed to make it
                body = (
                    b'{"reason": "matrix", "whatMatters": "matrix", "attendance": "attended"}'
                    if method == "POST"
                    else None
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
    return checked, wrong
