"""The pipeline on the broker's SASL/SCRAM listener, each service with its own user and only
the ACLs it needs: a referral still travels end to end, and nobody can step outside their
grants; an agency reads its own status topic and no other agency's (issue 17 part 4)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from hub_cli.kafka_acls import agency_grants, apply_grants, create_scram_user, service_grants
from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.jsonio import loads
from tests.support.fixtures import FIXTURES, inbound
from tests.support.infra import Infrastructure
from tests.support.kafka_io import collect
from tests.support.processes import ServiceProcess, run_cli
from tests.support.stack import IsolatedStack
from tests.support.variants import example

pytestmark = pytest.mark.infra

USERS = ("intake", "router", "notifier", "admin", "cva")
# Two agencies of one source, each known by the id intake derives from its name. Only CVA gets
# a Kafka user here: what is on trial is that CVA reads its own topic and cannot read Sutton's.
AGENCIES = {
    "cva": ("Croydon Voluntary Action", f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"),
    "sutton": ("Sutton Carers Centre", f"{AGENCY_ID_SYSTEM}|community:sutton-carers-centre"),
}
BAD_NHS_NUMBER = "1234567890"  # fails its check: accepted, with a warning told to the sender


@pytest.fixture(scope="module")
def passwords(infra: Infrastructure, stack: IsolatedStack) -> dict[str, str]:
    if not (
        infra.kafka_sasl_bootstrap_servers and infra.kafka_tools and infra.kafka_tools.is_dir()
    ):
        pytest.fail(
            "SASL/SCRAM needs the project's local broker (deploy/local/stack.sh), or "
            "KAFKA_SASL_BOOTSTRAP_SERVERS and KAFKA_TOOLS_LIB naming a SASL listener and Kafka's jars"
        )
    chosen = {user: secrets.token_urlsafe(12) for user in USERS}
    for user, password in chosen.items():
        create_scram_user(infra.kafka_bootstrap_servers, user, password, infra.kafka_tools)
    grants = [
        *service_grants(stack.topics, stack.topic_prefix),
        *agency_grants("cva", stack.topics, "community", AGENCIES["cva"][1], stack.topic_prefix),
    ]
    apply_grants(infra.kafka_bootstrap_servers, grants, infra.kafka_tools)
    return chosen


def sasl_env(infra: Infrastructure, user: str, password: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_sasl_bootstrap_servers or "",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD": password,
    }


def client(infra: Infrastructure, user: str, password: str) -> dict[str, str]:
    return {
        "bootstrap_servers": infra.kafka_sasl_bootstrap_servers or "",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


@pytest.fixture(scope="module")
def services(
    infra: Infrastructure,
    stack: IsolatedStack,
    passwords: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("sasl")
    processes = {
        name: ServiceProcess(name, {**stack.env(), **sasl_env(infra, name, passwords[name])}, logs)
        for name in ("intake", "router", "notifier")
    }
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


async def test_a_referral_travels_the_pipeline_over_sasl(
    infra: Infrastructure,
    stack: IsolatedStack,
    passwords: dict[str, str],
    services: dict[str, ServiceProcess],
) -> None:
    admin = {**stack.env(), **sasl_env(infra, "admin", passwords["admin"])}
    run_cli(admin, "workers", "load", str(FIXTURES / "roster-small.csv"))

    agency = AIOKafkaProducer(**client(infra, "cva", passwords["cva"]))
    await agency.start()
    try:
        await agency.send_and_wait(
            stack.topics.inbound("community"), example("community", "-SASL"), key=b"sasl-1"
        )
    finally:
        await agency.stop()

    tasks = await collect(
        stack.kafka_bootstrap_servers, stack.topics.tasks, lambda seen: len(seen) >= 1, timeout=60
    )
    assert tasks[0]["businessStatus"]["coding"][0]["code"] in ("offered", "awaiting-allocation")


async def test_users_cannot_step_outside_their_grants(
    infra: Infrastructure, stack: IsolatedStack, passwords: dict[str, str]
) -> None:
    # An agency may write its own inbound topic, and nothing else.
    agency = AIOKafkaProducer(**client(infra, "cva", passwords["cva"]))
    await agency.start()
    try:
        with pytest.raises(KafkaError):
            await agency.send_and_wait(stack.topics.requested, b"{}", key=b"forged")
    finally:
        await agency.stop()

    # The notifier reads Task snapshots but cannot read the agencies' raw referrals.
    snoop = AIOKafkaConsumer(
        stack.topics.inbound("community"),
        group_id=f"{stack.topic_prefix}notifier-snoop",
        auto_offset_reset="earliest",
        **client(infra, "notifier", passwords["notifier"]),
    )
    with pytest.raises(KafkaError):
        await snoop.start()
        await snoop.getone()
    await snoop.stop()

    # A wrong password gets nowhere.
    stranger = AIOKafkaProducer(**client(infra, "cva", "wrong-password"))
    with pytest.raises(KafkaError):
        await stranger.start()
    await stranger.stop()


def warned_referral(user: str) -> tuple[str, bytes]:
    """A community referral from `user`'s organisation that intake accepts with a warning."""
    document: dict[str, Any] = json.loads(inbound("community-referral.json"))
    form_id = f"SASL-{user}-{uuid.uuid4().hex[:8]}"
    document["form_id"] = form_id
    document["referrer"]["organisation"] = AGENCIES[user][0]
    document["person"]["nhs_number"] = BAD_NHS_NUMBER
    return form_id, json.dumps(document).encode()


async def test_an_agency_reads_its_own_statuses_and_not_another_agencys(
    infra: Infrastructure,
    stack: IsolatedStack,
    passwords: dict[str, str],
    services: dict[str, ServiceProcess],
) -> None:
    sent = {user: warned_referral(user) for user in AGENCIES}
    # Both through CVA's user: the inbound topic is its source's, and intake names the
    # agency from the message (a Sutton user would write the same topic the same way).
    agency = AIOKafkaProducer(**client(infra, "cva", passwords["cva"]))
    await agency.start()
    try:
        for form_id, body in sent.values():
            await agency.send_and_wait(
                stack.topics.inbound("community"), body, key=form_id.encode()
            )
    finally:
        await agency.stop()
    own = {
        user: stack.topics.agency_status("community", agency)
        for user, (_, agency) in AGENCIES.items()
    }
    assert own["cva"] != own["sutton"]
    # Intake (its own SASL user, Create by prefix) made each topic and told each sender there.
    for user, topic in own.items():
        form_id = sent[user][0]
        await collect(
            stack.kafka_bootstrap_servers,
            topic,
            lambda seen, form_id=form_id: any(form_id in json.dumps(v) for v in seen),
        )

    # CVA, in a consumer group of its own, reads its warnings: its referral's, nobody else's.
    reader = AIOKafkaConsumer(
        own["cva"],
        group_id=f"{stack.topic_prefix}agency.cva.status",
        auto_offset_reset="earliest",
        **client(infra, "cva", passwords["cva"]),
    )
    await reader.start()
    try:
        batch = await reader.getmany(timeout_ms=10_000)
    finally:
        await reader.stop()
    values = [json.dumps(loads(r.value)) for records in batch.values() for r in records if r.value]
    assert values and all(sent["cva"][0] in value for value in values), values
    assert not any(sent["sutton"][0] in value for value in values)

    # CVA is refused Sutton's topic, which holds Sutton's referral id and warnings.
    snoop = AIOKafkaConsumer(
        own["sutton"],
        group_id=f"{stack.topic_prefix}agency.cva.snoop",
        auto_offset_reset="earliest",
        **client(infra, "cva", passwords["cva"]),
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await snoop.start()
            await snoop.getmany(timeout_ms=10_000)
    finally:
        await snoop.stop()
