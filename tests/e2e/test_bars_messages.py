"""BaRS on the running hub (Kafka, PostgreSQL, every service a process of its own): a GP
system's referral message, its amendment and its cancellation, each read back first as the
standard has senders do, with the acknowledgements and the Task changes they cause; and the
messages the standard says a receiver must refuse, each refused naming its fault."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub_common.fhir.systems import ODS_SYSTEM
from hub_common.security.auth import Principal, issue_token
from hub_intake.adapters.formats import bars
from tests.support import bars as msg
from tests.support.credentials import bearer
from tests.support.fixtures import FIXTURES
from tests.support.kafka_io import collect, publish
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

GP = f"{ODS_SYSTEM}|H85002"
SENDER = Principal("agency", GP, organisation=GP, sources=("fhir",))
WORKER = Principal("link_worker", "lw-sm-pl", name="Ola Test")  # the Sutton worker
SR = "Bundle.entry[ServiceRequest]"


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("bars")) as running:
        yield running


def as_(stack: IsolatedStack, who: Principal) -> dict[str, str]:
    return {**bearer(issue_token(stack.auth_secret, who)), "Content-Type": "application/fhir+json"}


def response_of(answer: httpx.Response) -> tuple[dict[str, Any], dict[str, Any]]:
    """The acknowledgement's MessageHeader.response and its OperationOutcome."""
    bundle = answer.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message", bundle
    header, outcome = (entry["resource"] for entry in bundle["entry"])
    assert header["response"]["details"]["reference"] == bundle["entry"][1]["fullUrl"]
    return header["response"], outcome


def faults(outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        issue["expression"][0]: issue for issue in outcome["issue"] if issue["severity"] == "error"
    }


async def test_referral_amendment_and_cancellation_travel_with_acknowledgements(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    intake, router, notifier = (services[n].url for n in ("intake", "router", "notifier"))
    run_cli(stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv"))
    sender, worker = as_(stack, SENDER), as_(stack, WORKER)
    reference = f"H85002-BARS-{uuid.uuid4().hex[:8]}"
    referral = msg.referral(reference)
    async with httpx.AsyncClient(timeout=15.0) as client:

        async def post(message: dict[str, Any]) -> httpx.Response:
            return await client.post(
                f"{intake}/fhir/$process-message", json=message, headers=sender
            )

        async def task_when(check: Any) -> dict[str, Any]:
            async def found() -> Any:
                answer = await client.get(f"{router}/fhir/Task/{referral_id}", headers=worker)
                return answer.json() if answer.status_code == 200 and check(answer.json()) else None

            task: dict[str, Any] = await eventually(found, timeout=30.0, what="the Task")
            return task

        async def read_back(version: str) -> dict[str, Any]:
            async def found() -> Any:
                answer = await client.get(
                    f"{notifier}/fhir/ServiceRequest/{referral_id}", headers=sender
                )
                body = answer.json() if answer.status_code == 200 else {}
                return body if body.get("meta", {}).get("versionId") == version else None

            request: dict[str, Any] = await eventually(found, timeout=30.0, what=f"v{version}")
            return request

        # A new referral: acknowledged ok, answering the request's MessageHeader.id.
        answer = await post(referral)
        assert answer.status_code == 200, answer.text
        response, _ = response_of(answer)
        assert response == {**response, "identifier": msg.header(referral)["id"], "code": "ok"}
        referral_id = answer.headers["Location"].rsplit("/", 1)[1]
        offered = await task_when(lambda t: t["businessStatus"]["text"] == "offered")
        assert offered["owner"]["reference"] == "PractitionerRole/lw-sm-pl"
        assert "note" not in offered

        # The sender reads the ServiceRequest first, then amends the version it read.
        current = await read_back("1")
        assert current["status"] == "active"
        amended = msg.amendment(referral, 1, "Money worries, struggling with debts and bills")
        answer = await post(amended)
        assert answer.status_code == 200, answer.text
        assert response_of(answer)[0]["code"] == "ok"
        changed = await task_when(
            lambda t: t["meta"]["versionId"] == str(int(offered["meta"]["versionId"]) + 1)
        )
        # The worker sees the change: a new Task version naming the ServiceRequest version,
        # still theirs, with the amended needs among its inputs.
        assert changed["note"][0]["text"].endswith("ServiceRequest version 2")
        assert changed["owner"]["reference"] == "PractitionerRole/lw-sm-pl"
        needs = {
            i["valueCodeableConcept"]["coding"][0]["code"]
            for i in changed["input"]
            if "valueCodeableConcept" in i
        }
        assert "money-debt-benefits" in needs
        assert (await read_back("2"))["reasonCode"][0]["text"].startswith("Money worries")

        # An update of a version no longer current is refused: the sender must read again.
        stale = await post(msg.amendment(referral, 1, "Something else"))
        assert stale.status_code == 422, stale.text
        response, outcome = response_of(stale)
        assert response["code"] == "fatal-error"
        assert faults(outcome)[f"{SR}.meta.versionId"]["code"] == "conflict"

        # Another practice cannot cancel it: to them the referral does not exist.
        other_gp = f"{ODS_SYSTEM}|H85003"
        intruder = await client.post(
            f"{intake}/fhir/$process-message",
            json=msg.cancellation(referral, 2),
            headers=as_(
                stack, Principal("agency", other_gp, organisation=other_gp, sources=("fhir",))
            ),
        )
        assert intruder.status_code == 422, intruder.text
        assert faults(response_of(intruder)[1])[f"{SR}.identifier"]["code"] == "not-found"

        # The worker takes it on; then the sender cancels: it leaves the worker's caseload.
        accepted = await client.post(f"{router}/fhir/Task/{referral_id}/$accept", headers=worker)
        assert accepted.status_code == 200, accepted.text
        answer = await post(msg.cancellation(referral, 2))
        assert answer.status_code == 200, answer.text
        assert response_of(answer)[0]["code"] == "ok"
        cancelled = await task_when(lambda t: t["status"] == "cancelled")
        assert "cancelled by the referrer" in cancelled["statusReason"]["text"]
        caseload = await client.get(
            f"{router}/fhir/Task", params={"owner": "PractitionerRole/lw-sm-pl"}, headers=worker
        )
        open_ids = {
            e["resource"]["id"]
            for e in caseload.json().get("entry", [])
            if e["resource"]["status"] not in ("cancelled", "completed", "failed")
        }
        assert referral_id not in open_ids
        assert (await read_back("3"))["status"] == "revoked"

        # The notifier tracked the cancellation: the referrer's own Task reads cancelled.
        async def notifier_task() -> Any:
            got = await client.get(f"{notifier}/fhir/Task/{referral_id}", headers=sender)
            return (
                got.json()
                if got.status_code == 200 and got.json()["status"] == "cancelled"
                else None
            )

        await eventually(notifier_task, timeout=30.0, what="the notifier's cancelled Task")

        # Only an active ServiceRequest can be cancelled.
        again = await post(msg.cancellation(referral, 3))
        assert again.status_code == 422, again.text
        assert faults(response_of(again)[1])[f"{SR}.status"]["code"] == "business-rule"


@pytest.mark.parametrize(
    ("break_it", "field", "code"),
    [
        (lambda m: msg.header(m).pop("source"), "MessageHeader.source.endpoint", "required"),
        (
            lambda m: msg.header(m).update(
                eventCoding={"system": bars.EVENTS_SYSTEM, "code": "booking-request"}
            ),
            "MessageHeader.eventCoding",
            "not-supported",
        ),
        (
            lambda m: msg.header(m).update(
                definition="https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request"
            ),
            "MessageHeader.definition",
            "not-supported",
        ),
        (lambda m: msg.service_request(m).pop("subject"), f"{SR}.subject", "required"),
        (lambda m: msg.service_request(m).pop("intent"), f"{SR}.intent", "required"),
    ],
    ids=["no-source", "booking-event", "wrong-definition", "no-subject", "no-intent"],
)
async def test_a_faulty_message_is_refused_naming_its_fault(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    break_it: Any,
    field: str,
    code: str,
) -> None:
    message = msg.referral(f"H85002-BAD-{uuid.uuid4().hex[:8]}")
    break_it(message)
    async with httpx.AsyncClient(timeout=15.0) as client:
        answer = await client.post(
            f"{services['intake'].url}/fhir/$process-message",
            json=message,
            headers=as_(stack, SENDER),
        )
    assert answer.status_code == 422, answer.text
    response, outcome = response_of(answer)
    assert response["code"] == "fatal-error"
    assert response["identifier"] == msg.header(message)["id"]
    assert set(faults(outcome)) == {field}
    assert faults(outcome)[field]["code"] == code


async def test_what_cannot_be_answered_gets_an_operation_outcome(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    url = f"{services['intake'].url}/fhir/$process-message"
    headers = as_(stack, SENDER)
    no_id = msg.referral(f"H85002-NOID-{uuid.uuid4().hex[:8]}")
    del msg.header(no_id)["id"]
    plain = msg.referral()
    plain["type"] = "collection"
    async with httpx.AsyncClient(timeout=15.0) as client:
        answers = [await client.post(url, json=body, headers=headers) for body in (no_id, plain)]
        other = await client.post(
            url,
            json=msg.referral(),
            headers=as_(stack, Principal("agency", GP, organisation=GP, sources=("community",))),
        )
    for answer, field in zip(answers, ("MessageHeader.id", "Bundle.type"), strict=True):
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["resourceType"] == "OperationOutcome"
        assert field in {issue["expression"][0] for issue in body["issue"]}
    assert other.status_code == 403


async def test_bars_messages_on_the_fhir_topic_are_held_to_the_standard(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    """On Kafka there is no acknowledgement: a good message becomes a referral, a bad one a
    refusal on referrals.rejected naming the fault, and its cancellation the next version."""
    good_ref, bad_ref = (f"H85002-KAFKA-{uuid.uuid4().hex[:8]}" for _ in range(2))
    good, bad = msg.referral(good_ref), msg.referral(bad_ref)
    msg.header(bad)["definition"] = (
        "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request"
    )
    topic = stack.topics.inbound("fhir")
    for reference, message in ((good_ref, good), (bad_ref, bad)):
        await publish(stack.kafka_bootstrap_servers, topic, json.dumps(message).encode(), reference)
    await publish(
        stack.kafka_bootstrap_servers,
        topic,
        json.dumps(msg.cancellation(good, 1)).encode(),
        good_ref,
    )

    def versions(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in seen if r["identifier"][1]["value"] == good_ref]

    requested = await collect(
        stack.kafka_bootstrap_servers, stack.topics.requested, lambda seen: len(versions(seen)) >= 2
    )
    first, cancelled = versions(requested)
    assert (first["meta"]["versionId"], first["status"]) == ("1", "active")
    assert (cancelled["meta"]["versionId"], cancelled["status"]) == ("2", "revoked")
    assert cancelled["id"] == first["id"]

    def refusal(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in seen if r.get("referrerReference") == bad_ref]

    rejected = await collect(
        stack.kafka_bootstrap_servers, stack.topics.rejected, lambda seen: bool(refusal(seen))
    )
    [event] = refusal(rejected)
    issues = [i for i in event["outcome"]["issue"] if i["severity"] == "error"]
    assert [i["expression"][0] for i in issues] == ["MessageHeader.definition"]
