"""A three-broker Kafka cluster of its own for one test, started by deploy/local/stack.sh
(HUB_KAFKA_BROKERS=3) in a temporary state folder, with Kafka's jars shared with the main stack."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.infra import REPO

BROKERS = 3


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_base_ports(start: int = 29092) -> int:
    """A base port whose nine neighbours (client, controller and SASL ports of three brokers,
    100 apart) are all free."""
    for base in range(start, start + 2000, 10):
        wanted = [base + offset + 100 * n for n in range(BROKERS) for offset in (0, 1, 2)]
        if all(_free(port) for port in wanted):
            return base
    raise RuntimeError(f"no free ports for a {BROKERS}-broker cluster from {start}")


@dataclass
class KafkaCluster:
    state: Path
    base_port: int

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HUB_LOCAL_STATE": str(self.state),
            "HUB_KAFKA_BROKERS": str(BROKERS),
            "HUB_KAFKA_PORT": str(self.base_port),
            "HUB_KAFKA_CONTROLLER_PORT": str(self.base_port + 1),
            "HUB_KAFKA_SASL_PORT": str(self.base_port + 2),
        }

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.port_of(n)}" for n in range(1, BROKERS + 1))

    def port_of(self, broker: int) -> int:
        return self.base_port + 100 * (broker - 1)

    def stack(self, *arguments: str) -> str:
        """`deploy/local/stack.sh ARGUMENTS...` for this cluster; fails loudly with its output."""
        result = subprocess.run(
            ["bash", str(REPO / "deploy/local/stack.sh"), *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"stack.sh {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def start(self) -> KafkaCluster:
        self.stack("kafka-start")
        return self

    def stop(self) -> None:
        self.stack("kafka-stop")

    def kill(self, broker: int) -> None:
        """SIGKILL one broker, as a crash or a lost machine would."""
        self.stack("broker-kill", str(broker))

    def restart(self, broker: int) -> None:
        self.stack("broker-start", str(broker))

    def log(self, broker: int, lines: int = 30) -> str:
        path = self.state / "kafka" / f"broker-{broker}" / "kafka.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def new_cluster(folder: Path, jars: Path) -> KafkaCluster:
    """A cluster whose state lives in `folder`, reusing the jars the main stack fetched."""
    if not (jars / ".pom.sha256").exists():
        raise AssertionError(
            f"Kafka's jars are not at {jars} (KAFKA_TOOLS_LIB, or the local bring-up's "
            ".local/kafka/lib): the cluster test starts its own brokers from them"
        )
    (folder / "kafka").mkdir(parents=True, exist_ok=True)
    (folder / "kafka" / "lib").symlink_to(jars.resolve(), target_is_directory=True)
    return KafkaCluster(folder, free_base_ports())
