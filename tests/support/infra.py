"""Where the tests' Kafka and PostgreSQL come from, in the order docs/contract.md promises:

1. `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` from the environment;
2. testcontainers, when a Docker engine answers (apache/kafka and postgres images);
3. the project's own local bring-up, `deploy/local/stack.sh up` (Maven Central jars, Debian
   PostgreSQL).

When none works the tests that need them fail, saying why; they are never skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_DATABASE = "postgresql+asyncpg://hub:hub@127.0.0.1:5432/referral_hub"


class InfrastructureUnavailable(RuntimeError):
    """Neither the environment, Docker nor the local bring-up gave a working Kafka/PostgreSQL."""


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    database_url: str  # a database on the server the tests may use to create their own
    origin: str
    # The broker's SASL/SCRAM listener, where ACLs apply (local bring-up, or named by
    # KAFKA_SASL_BOOTSTRAP_SERVERS), and the folder of its admin tools' jars.
    kafka_sasl_bootstrap_servers: str | None = None
    kafka_tools: Path | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docker_answers() -> bool:
    try:
        import docker  # testcontainers' dependency

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Infrastructure]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    port = free_port()
    kafka = (
        DockerContainer("apache/kafka:4.1.1")
        .with_bind_ports(9092, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    postgres = PostgresContainer(
        "postgres:16", username="hub", password="hub", dbname="referral_hub", driver="asyncpg"
    )
    with kafka, postgres:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        yield Infrastructure(f"127.0.0.1:{port}", postgres.get_connection_url(), "testcontainers")


def _local_bring_up() -> Infrastructure:
    state = Path(os.environ.get("HUB_LOCAL_STATE", REPO / ".local"))
    state.mkdir(parents=True, exist_ok=True)
    # Parallel workers (pytest -n) each ask for the stack: one brings it up while the others
    # wait, then find it running (`up` on a running stack only checks it).
    with (state / "stack-up.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["bash", str(REPO / "deploy/local/stack.sh"), "up"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        raise InfrastructureUnavailable(
            "the local bring-up (deploy/local/stack.sh up) failed:\n"
            + result.stdout[-2000:]
            + result.stderr[-3000:]
        )
    sasl = f"127.0.0.1:{os.environ.get('HUB_KAFKA_SASL_PORT', '9094')}"
    kafka = f"127.0.0.1:{os.environ.get('HUB_KAFKA_PORT', '9092')}"
    database = LOCAL_DATABASE.replace(":5432/", f":{os.environ.get('HUB_PG_PORT', '5432')}/")
    return Infrastructure(kafka, database, "local bring-up", sasl, state / "kafka" / "lib")


@contextlib.contextmanager
def infrastructure() -> Iterator[Infrastructure]:
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if kafka and database:
        sasl = os.environ.get("KAFKA_SASL_BOOTSTRAP_SERVERS")
        tools = os.environ.get("KAFKA_TOOLS_LIB")
        yield Infrastructure(kafka, database, "environment", sasl, Path(tools) if tools else None)
    elif _docker_answers():
        with _containers() as infra:
            yield infra
    else:
        yield _local_bring_up()
