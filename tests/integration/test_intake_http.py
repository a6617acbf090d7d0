"""Agencies posting referrals over HTTP to a real intake process on real Kafka and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from tests.support.credentials import CVA, agency_token, bearer
from tests.support.fixtures import inbound
from tests.support.kafka_io import collect
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def intake(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    process = ServiceProcess("intake", stack.env(), tmp_path_factory.mktemp("intake-http")).start()
    yield process
    process.stop()


def community(form_id: str, **person: object) -> bytes:
    document = json.loads(inbound("community-referral.json"))
    document["form_id"] = form_id
    document["person"].update(person)
    return json.dumps(document).encode()


def post(intake: ServiceProcess, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{intake.url}{path}", content=body, headers={"Content-Type": "application/json", **headers}
    )


def test_credentials_are_required_and_checked(stack: IsolatedStack, intake: ServiceProcess) -> None:
    body = community("HTTP-AUTH-1")
    assert post(intake, "/referrals/community", body, {}).status_code == 401
    assert post(intake, "/referrals/community", body, bearer("not-a-token")).status_code == 401
    expired = agency_token(stack, ttl_seconds=60, now=time.time() - 3600)
    answer = post(intake, "/referrals/community", body, bearer(expired))
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    police_only = agency_token(stack, sources=("police",))
    assert post(intake, "/referrals/community", body, bearer(police_only)).status_code == 403


async def test_accepted_then_resent_answers_the_same_id_and_publishes_once(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    token = bearer(agency_token(stack))
    first = post(intake, "/referrals/community", community("HTTP-OK-1"), token)
    assert first.status_code == 202, first.text
    [result] = first.json()["results"]
    assert result["status"] == "accepted"
    assert result["task"] == (
        f"http://127.0.0.1:8003/fhir/Task?focus=ServiceRequest/{result['referral_id']}"
    )  # absolute, at the notifier (INTAKE_NOTIFIER_URL)

    again = post(intake, "/referrals/community", community("HTTP-OK-1"), token)
    assert again.status_code == 202
    assert again.json()["results"][0] == {**result, "status": "duplicate"}

    requests = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.requested,
        lambda seen: any(r["id"] == result["referral_id"] for r in seen),
    )
    mine = [r for r in requests if r["id"] == result["referral_id"]]
    assert len(mine) == 1
    organisation = next(r for r in mine[0]["contained"] if r["resourceType"] == "Organization")
    # The credential decides the sender, whatever the payload says.
    assert organisation["identifier"][0] == {"system": AGENCY_ID_SYSTEM, "value": CVA.split("|")[1]}


def test_refusal_names_every_wrong_field(stack: IsolatedStack, intake: ServiceProcess) -> None:
    document = json.loads(community("HTTP-BAD-1"))
    document["consent"] = False
    document["person"]["postcode"] = "M1 1AE"
    answer = post(
        intake, "/referrals/community", json.dumps(document).encode(), bearer(agency_token(stack))
    )
    assert answer.status_code == 422
    [result] = answer.json()["results"]
    assert result["status"] == "rejected" and result["referral_id"] is None
    fields = {issue["expression"][0] for issue in result["outcome"]["issue"]}
    assert fields == {"consent", "person.postcode"}
    assert result["outcome"]["resourceType"] == "OperationOutcome"


def test_unreadable_oversized_and_unknown(stack: IsolatedStack, intake: ServiceProcess) -> None:
    token = bearer(agency_token(stack))
    unreadable = post(intake, "/referrals/community", b"{not json", token)
    assert unreadable.status_code == 400
    assert unreadable.json()["resourceType"] == "OperationOutcome"
    oversized = post(intake, "/referrals/community", b"x" * 2_000_001, token)
    assert oversized.status_code == 413
    assert post(intake, "/referrals/carrier-pigeon", b"{}", token).status_code == 404


def test_an_unknown_schema_version_is_refused_naming_schema(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    document = json.loads(community("HTTP-SCHEMA-9"))
    document["schema"] = "community-referral/9"
    answer = post(
        intake, "/referrals/community", json.dumps(document).encode(), bearer(agency_token(stack))
    )
    assert answer.status_code == 400
    [issue] = answer.json()["issue"]
    assert issue["expression"] == ["schema"]
    assert issue["diagnostics"].endswith("this hub accepts community-referral/1")


async def test_http_rejections_are_recorded_on_the_rejected_topic(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    document = json.loads(community("HTTP-BAD-2"))
    document["consent"] = False
    post(intake, "/referrals/community", json.dumps(document).encode(), bearer(agency_token(stack)))
    rejected = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.rejected,
        lambda seen: any(e.get("referrerReference") == "HTTP-BAD-2" for e in seen),
    )
    event = next(e for e in rejected if e.get("referrerReference") == "HTTP-BAD-2")
    assert event["source"] == "community"
    assert event["referrerContact"]["email"] == "amina.rahman@cva.example"
    assert event["original"]["form_id"] == "HTTP-BAD-2"
    assert event["outcome"]["issue"][0]["expression"] == ["consent"]
