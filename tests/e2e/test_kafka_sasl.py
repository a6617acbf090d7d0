"""The pipeline on the broker's SASL/SCRAM listener, each service with its own user and only
the ACLs it needs: a referral still travels end to end, and nobody can step outside their
grants."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from hub_cli.kafka_acls import agency_grant, apply_grants, create_scram_user, service_grants
from tests.support.fixtures import FIXTURES
from tests.support.infra import Infrastructure
from tests.support.kafka_io import collect
from tests.support.processes import ServiceProcess, run_cli
from tests.support.stack import IsolatedStack
from tests.support.variants import example

pytestmark = pytest.mark.infra

USERS = ("intake", "router", "notifier", "admin", "cva")


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
        agency_grant("cva", stack.topics, "community"),
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
