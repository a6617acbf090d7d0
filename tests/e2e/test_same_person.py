"""The same person from two agencies, on the running hub (issue 13, item 8): a GP practice's
FHIR referral carries her NHS number, a police referral about her does not (and spells her
differently); intake gives them different person keys, so only the notifier's matching links
them. The worker who accepts the police referral sees the GP's as "other referrals of this
person"; a worker who was not offered it does not; the read is in the audit log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from hub_common.security.auth import Principal, issue_token
from tests.support.fixtures import FIXTURES
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example

pytestmark = pytest.mark.infra

TAG = "-SAME"


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("same-person")) as running:
        yield running


def police_about_the_gp_patient() -> bytes:
    """The police example rewritten about the GP example's patient, as an officer would have
    it: no NHS number, a hyphenated given name, the phone in international form."""
    referral = json.loads(example("police", TAG))
    subject = referral["subject"]
    del subject["nhs_number"]
    subject.update(
        surname="BAPTISTE",
        forenames="Jean-Luc",
        date_of_birth="1968-02-29",
        phone="+44 7700 900321",
        address={"line1": "5 Park Lane", "town": "Croydon", "postcode": "cr0 1ja"},
    )
    return json.dumps(referral).encode()


def bearer(stack: IsolatedStack, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(stack.auth_secret, principal)}"}


async def test_a_gp_and_a_police_referral_for_one_person_are_linked_and_shown(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    run_cli(stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv"))
    await asyncio.sleep(1.0)
    bootstrap = stack.kafka_bootstrap_servers
    await publish(bootstrap, stack.topics.inbound("fhir"), example("fhir", TAG), key="gp")
    await publish(
        bootstrap, stack.topics.inbound("police"), police_about_the_gp_patient(), key="police"
    )
    requests = await collect(bootstrap, stack.topics.requested, lambda seen: len(seen) >= 2)
    by_source = {
        next(i["system"] for i in r["identifier"] if "/referrer-ref/" in i["system"]).rsplit(
            "/", 1
        )[-1]: r
        for r in requests
    }
    gp_id, police_id = by_source["fhir"]["id"], by_source["police"]["id"]
    # Intake could not tell them apart by its exact key: two episodes, as before item 8.
    episode = "https://referral-hub.org/fhir/StructureDefinition/episode-id"
    episodes = {
        source: next(e["valueString"] for e in r["extension"] if e["url"] == episode)
        for source, r in by_source.items()
    }
    assert episodes["fhir"] != episodes["police"]

    tasks = await collect(
        bootstrap,
        stack.topics.tasks,
        lambda seen: any(t["id"] == police_id and t.get("owner") for t in seen),
    )
    owner = next(t for t in tasks if t["id"] == police_id and t.get("owner"))["owner"]["reference"]
    worker = owner.removeprefix("PractitionerRole/")
    stranger = "lw-sm-pl" if worker != "lw-sm-pl" else "lw-cr-en"
    notifier, router = services["notifier"].url, services["router"].url
    async with httpx.AsyncClient(timeout=10.0) as client:
        accepted = await client.post(
            f"{router}/fhir/Task/{police_id}/$accept",
            headers=bearer(stack, Principal("link_worker", worker)),
        )
        assert accepted.status_code == 200, accepted.text
        path = f"{notifier}/people/referrals/{police_id}"
        deadline = time.monotonic() + 20
        while True:
            seen = await client.get(path, headers=bearer(stack, Principal("link_worker", worker)))
            if seen.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)  # the notifier hears of the acceptance from the Task
        assert seen.status_code == 200, seen.text
        referrals = {r["referralId"]: r for r in seen.json()["referrals"]}
        assert set(referrals) == {gp_id, police_id}
        assert referrals[police_id]["linkedBy"] == "demographics"
        assert referrals[gp_id]["source"] == "fhir" and referrals[gp_id]["open"] is True
        assert "Baptiste" not in seen.text and "9990166137" not in seen.text
        other = await client.get(path, headers=bearer(stack, Principal("link_worker", stranger)))
        assert other.status_code == 404
        coordinator = bearer(stack, Principal("coordinator", "co-cr", boroughs=("Croydon",)))
        assert (
            await client.get(
                "/".join([notifier, "coordination/people/reviews"]), headers=coordinator
            )
        ).json() == {"reviews": []}

        # The worker's read is on record, naming both referrals (hub.audit, kept by the notifier).
        deadline = time.monotonic() + 20
        while True:
            log = await client.get(
                f"{notifier}/audit",
                params={"resource": gp_id, "actor": worker},
                headers=bearer(stack, Principal("operator", "ops")),
            )
            entries = [
                e
                for e in log.json()["entries"]
                if e["request"]["route"] == "/people/referrals/{referral_id}"
            ]
            if entries or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
    assert entries and set(entries[0]["resourceIds"]) == {gp_id, police_id}
