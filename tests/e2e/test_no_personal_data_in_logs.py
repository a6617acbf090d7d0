"""Run every agency's example through the real hub, good and bad, and read every line the
services wrote: no name, NHS number, address, phone, e-mail or free text may appear."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infra import REPO
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import EXAMPLES, example, without_consent

pytestmark = pytest.mark.infra


# Personal data in the examples (people referred and people referring), and their free text.
PERSONAL = [
    "Gloria", "Mensah", "Brigstock", "07700 900789", "Caring for her mother",
    "Hargreaves", "Colin", "9995260182", "999 526 0182", "Wellesley", "07700 900123", "Two dogs", "Called by neighbours",
    "Margaret", "O'Neill", "Cheam Road", "020 8555 0199", "rarely leaves the flat",
    "Adeyemi", "9991590838", "Garratt", "sam.a@mail.example", "Lost job in March", "Chen, Li", "Morden Road",
    "Baptiste", "9990166137", "07700 900321",
    "Amina Rahman", "amina.rahman@cva.example", "Dana Okafor", "Priya Shah", "Lena Fischer", "Helen Carter",
]  # fmt: skip


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("pii-logs")) as running:
        yield running


async def test_logs_carry_no_personal_data(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    run_cli(stack.env(), "workers", "load", str(REPO / "deploy/demo/linkworkers.csv"))
    await asyncio.sleep(1.0)
    for source in EXAMPLES:
        body = example(source)
        await publish(
            stack.kafka_bootstrap_servers, stack.topics.inbound(source), body, key=f"{source}-good"
        )
        await publish(
            stack.kafka_bootstrap_servers,
            stack.topics.inbound(source),
            without_consent(source, "-BAD"),
            key=f"{source}-bad",
        )

    await collect(
        stack.kafka_bootstrap_servers, stack.topics.tasks, lambda seen: len(seen) >= 1, timeout=60
    )
    await collect(
        stack.kafka_bootstrap_servers,
        stack.topics.rejected,
        lambda seen: len(seen) >= 1,
        timeout=60,
    )
    await asyncio.sleep(2.0)  # let every service finish logging what it did
    for process in services.values():
        process.stop()

    lines = [
        (path.name, line)
        for path in Path(services["intake"].log_dir).glob("*.log")
        for line in path.read_text(errors="replace").splitlines()
    ]
    assert len(lines) > 20, (
        "the services logged almost nothing: is the test reading the right files?"
    )
    leaks = [
        (file, token, line[:160]) for file, line in lines for token in PERSONAL if token in line
    ]
    assert leaks == [], f"personal data reached the logs: {leaks[:5]}"
