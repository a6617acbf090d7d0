"""What the hub did to a referral, told to its sender, on a real intake process with real
Kafka and PostgreSQL (issue 22): warnings reach Kafka senders, a changed resend is refused
naming what differs, unreadable Kafka messages are matched to what was sent, text as agencies
write it (a byte-order mark, Latin-1, semicolons, name particles) is read or explained."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from tests.support.credentials import agency_token, bearer
from tests.support.fixtures import inbound
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

BAD_NHS_NUMBER = "1234567890"  # fails the Modulus 11 check: a warning, not a refusal
CVA_AGENCY_ID = "community:croydon-voluntary-action"  # the fixture's referrer, derived by name


@pytest.fixture(scope="module")
def intake(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    process = ServiceProcess("intake", stack.env(), tmp_path_factory.mktemp("told")).start()
    yield process
    process.stop()


def community(form_id: str, **person: object) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(inbound("community-referral.json"))
    document["form_id"] = form_id
    document["person"].update(person)
    return document


def post(
    stack: IsolatedStack, intake: ServiceProcess, path: str, body: bytes, media: str
) -> httpx.Response:
    token = bearer(agency_token(stack, sources=("community", "fire", "housing")))
    return httpx.post(f"{intake.url}{path}", content=body, headers={"Content-Type": media, **token})


def tag() -> str:
    return uuid.uuid4().hex[:10]


async def test_warnings_reach_a_kafka_sender_on_its_status_topic(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    form_id = f"WARN-{tag()}"
    body = json.dumps(community(form_id, nhs_number=BAD_NHS_NUMBER)).encode()
    await publish(
        stack.kafka_bootstrap_servers, stack.topics.inbound("community"), body, key=form_id
    )

    def mine(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [v for v in values if form_id in json.dumps(v)]

    # The sender's own status topic (docs/data-protection.md), made by intake on demand.
    topic = stack.topics.agency_status("community", f"{AGENCY_ID_SYSTEM}|{CVA_AGENCY_ID}")
    seen = await collect(stack.kafka_bootstrap_servers, topic, lambda v: bool(mine(v)))
    [outcome] = mine(seen)
    assert outcome["resourceType"] == "OperationOutcome"
    fields = [issue["expression"][0] for issue in outcome["issue"]]
    assert fields[0] == "(reference)" and "person.nhs_number" in fields
    assert BAD_NHS_NUMBER not in json.dumps(outcome)  # the warning names the field only


async def test_an_unreadable_kafka_message_is_refused_with_its_key_partition_and_offset(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    key = f"unreadable-{tag()}"
    await publish(
        stack.kafka_bootstrap_servers, stack.topics.inbound("community"), b"{not json", key=key
    )
    seen = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.rejected,
        lambda values: any((v.get("inbound") or {}).get("key") == key for v in values),
    )
    [event] = [v for v in seen if (v.get("inbound") or {}).get("key") == key]
    inbound_record = event["inbound"]
    assert inbound_record["topic"] == stack.topics.inbound("community")
    assert isinstance(inbound_record["partition"], int) and inbound_record["offset"] >= 0


async def test_a_changed_resend_is_refused_naming_what_differs_over_http_and_kafka(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    form_id = f"CHANGED-{tag()}"
    first = post(
        stack,
        intake,
        "/referrals/community",
        json.dumps(community(form_id)).encode(),
        "application/json",
    )
    assert first.status_code == 202, first.text
    same = post(
        stack,
        intake,
        "/referrals/community",
        json.dumps(community(form_id)).encode(),
        "application/json",
    )
    assert (same.status_code, same.json()["results"][0]["status"]) == (202, "duplicate")

    changed = community(form_id, phone="07700 900111")
    changed["what_matters"] = "Now also looking for work"
    refused = post(
        stack, intake, "/referrals/community", json.dumps(changed).encode(), "application/json"
    )
    assert refused.status_code == 409, refused.text
    [result] = refused.json()["results"]
    fields = {issue["expression"][0] for issue in result["outcome"]["issue"]}
    assert {"Patient.telecom", "ServiceRequest.note"} <= fields
    assert all(issue["code"] == "conflict" for issue in result["outcome"]["issue"])

    changed["person"]["phone"] = "07700 900222"  # over Kafka: told on referrals.rejected
    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.inbound("community"),
        json.dumps(changed).encode(),
        key=form_id,
    )

    def conflicts(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            v
            for v in values
            if v.get("referrerReference") == form_id
            and any(i["code"] == "conflict" for i in v["outcome"]["issue"])
            and v.get("inbound")
        ]

    seen = await collect(
        stack.kafka_bootstrap_servers, stack.topics.rejected, lambda v: bool(conflicts(v))
    )
    assert "Patient.telecom" in json.dumps(conflicts(seen)[0]["outcome"])


def test_text_as_agencies_write_it(stack: IsolatedStack, intake: ServiceProcess) -> None:
    with_bom = b"\xef\xbb\xbf" + json.dumps(community(f"BOM-{tag()}")).encode()
    assert (
        post(stack, intake, "/referrals/community", with_bom, "application/json").status_code == 202
    )

    latin1 = json.dumps(community(f"LATIN-{tag()}", given_name="Zoë"), ensure_ascii=False)
    refused = post(
        stack, intake, "/referrals/community", latin1.encode("latin-1"), "application/json"
    )
    assert refused.status_code == 400
    said = refused.json()["issue"][0]["diagnostics"]
    assert "0xEB" in said and "UTF-8" in said and "surrogates" not in said

    semicolons = inbound("housing-tenancy-referrals.csv").replace(b",", b";")
    refused = post(stack, intake, "/referrals/housing", semicolons, "text/csv")
    assert refused.status_code == 400
    assert "semicolons" in refused.json()["issue"][0]["diagnostics"]


async def test_a_name_with_a_particle_survives(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    document = json.loads(inbound("fire-safe-and-well.json"))
    document["visit_id"] = visit = f"SWV-{tag()}"
    document["occupant"]["name"] = "Mr Dafydd ap Gruffydd"
    answer = post(
        stack, intake, "/referrals/fire", json.dumps(document).encode(), "application/json"
    )
    assert answer.status_code == 202, answer.text
    referral_id = answer.json()["results"][0]["referral_id"]
    seen = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.requested,
        lambda values: any(v["id"] == referral_id for v in values),
    )
    [request] = [v for v in seen if v["id"] == referral_id]
    patient = next(r for r in request["contained"] if r["resourceType"] == "Patient")
    assert patient["name"][0]["given"] == ["Dafydd"]
    assert patient["name"][0]["family"] == "ap Gruffydd"
    assert visit
