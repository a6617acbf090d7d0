"""Every agency format through a real intake process, over Kafka and over HTTP: good, messy
and unacceptable referrals, with what ends up on referrals.requested and referrals.rejected."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from tests.support.credentials import agency_token, bearer
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack
from tests.support.variants import EXAMPLES, example, messy, references, without_consent

pytestmark = pytest.mark.infra

SOURCES = sorted(EXAMPLES)
HTTP_SENDERS = {
    "community": f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action",
    "police": f"{AGENCY_ID_SYSTEM}|police:metropolitan-police-service",
    "fire": f"{AGENCY_ID_SYSTEM}|fire:london-fire-brigade",
    "housing": f"{AGENCY_ID_SYSTEM}|housing:clarion-housing",
    "fhir": f"{ODS_SYSTEM}|H85001",
}


@pytest.fixture(scope="module")
def intake(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "intake", stack.env(), tmp_path_factory.mktemp("intake-sources")
    ).start()
    yield process
    process.stop()


def referrer_reference(request: dict[str, object]) -> str:
    return str(request["identifier"][1]["value"])  # type: ignore[index]


async def test_good_messy_and_refused_referrals_of_every_source_over_kafka(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    expected_ok, expected_refused = set(), set()
    for source in SOURCES:
        topic = stack.topics.inbound(source)
        await publish(
            stack.kafka_bootstrap_servers, topic, example(source, "-K1"), key=f"{source}-1"
        )
        await publish(stack.kafka_bootstrap_servers, topic, messy(source, "-K2"), key=f"{source}-2")
        await publish(
            stack.kafka_bootstrap_servers, topic, without_consent(source, "-K3"), key=f"{source}-3"
        )
        expected_ok |= set(references(source, "-K1")) | set(references(source, "-K2"))
        expected_refused |= set(references(source, "-K3"))

    requests = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.requested,
        lambda seen: expected_ok <= {referrer_reference(r) for r in seen},
        timeout=60,
    )
    rejected = await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.rejected,
        lambda seen: expected_refused <= {e["referrerReference"] for e in seen},
        timeout=60,
    )
    assert {referrer_reference(r) for r in requests} == expected_ok
    for event in rejected:
        errors = [issue for issue in event["outcome"]["issue"] if issue["severity"] == "error"]
        # Each format names its own consent field; the words always say what is missing.
        assert any("consent" in issue["diagnostics"].lower() for issue in errors), (
            event["source"],
            errors,
        )
        assert all(issue["expression"] for issue in errors)
        assert event["referrerContact"]["email"] or event["referrerContact"]["phone"]
    postcodes = {
        address["postalCode"]
        for request in requests
        for resource in request["contained"]
        if resource["resourceType"] == "Patient"
        for address in resource["address"]
    }
    assert {"CR7 8RS", "CR0 2AB", "SW18 4EQ"} <= postcodes  # normalised from the messy variants


@pytest.mark.parametrize("source", SOURCES)
def test_every_source_over_http(stack: IsolatedStack, intake: ServiceProcess, source: str) -> None:
    token = bearer(agency_token(stack, organisation=HTTP_SENDERS[source], sources=(source,)))
    media = "text/csv" if source == "housing" else "application/json"
    path = "/fhir" if source == "fhir" else f"/referrals/{source}"
    answer = httpx.post(
        f"{intake.url}{path}",
        content=example(source, "-H1"),
        headers={"Content-Type": media, **token},
    )
    if source == "fhir":  # FHIR's own answers: a transaction-response, an OperationOutcome
        assert answer.status_code == 200, answer.text
        assert answer.json()["type"] == "transaction-response"
        statuses = [e["response"]["status"] for e in answer.json()["entry"]]
        assert "201 Created" in statuses
    else:
        assert answer.status_code == 202, answer.text
        results = answer.json()["results"]
        assert [r["referrer_reference"] for r in results] == references(source, "-H1")
        assert {r["status"] for r in results} == {"accepted"}

    refused = httpx.post(
        f"{intake.url}{path}",
        content=without_consent(source, "-H2"),
        headers={"Content-Type": media, **token},
    )
    assert refused.status_code == 422, refused.text
    if source == "fhir":
        assert refused.json()["resourceType"] == "OperationOutcome"
        return
    for result in refused.json()["results"]:
        assert result["status"] == "rejected"
        assert result["outcome"]["resourceType"] == "OperationOutcome"


def test_a_housing_batch_answers_for_every_row(
    stack: IsolatedStack, intake: ServiceProcess
) -> None:
    token = bearer(agency_token(stack, organisation=HTTP_SENDERS["housing"], sources=("housing",)))
    lines = example("housing", "-H3").decode().splitlines()
    bad_row = lines[1].replace("SW18 4EQ", "M1 1AE")  # outside South West London
    batch = "\n".join([lines[0], bad_row, lines[2]]).encode()
    answer = httpx.post(
        f"{intake.url}/referrals/housing",
        content=batch,
        headers={"Content-Type": "text/csv", **token},
    )
    assert answer.status_code == 202
    results = answer.json()["results"]
    assert [(r["item"], r["status"]) for r in results] == [
        ("row 2", "rejected"),
        ("row 3", "accepted"),
    ]
    assert results[0]["outcome"]["issue"][0]["expression"] == ["postcode"]
