"""The whole path on the real broker and database, with each service a separate process:
agency message -> ServiceRequest -> offered Task -> recorded by the notifier."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.fixtures import FIXTURES, inbound
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("service-logs")) as running:
        yield running


def load_roster(stack: IsolatedStack, roster: Path) -> None:
    assert "published 3 link workers" in run_cli(stack.env(), "workers", "load", str(roster))


async def test_community_referral_becomes_an_offered_task_the_notifier_records(
    stack: IsolatedStack, services: dict[str, ServiceProcess]
) -> None:
    load_roster(stack, FIXTURES / "roster-small.csv")
    await asyncio.sleep(1.0)  # let the router apply the directory before the referral arrives

    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.inbound("community"),
        inbound("community-referral.json"),
        key="CVA-2026-000187",
    )

    requests = await collect(
        stack.kafka_bootstrap_servers, stack.topics.requested, lambda seen: len(seen) >= 1
    )
    request = requests[0]
    assert request["resourceType"] == "ServiceRequest"
    assert request["code"]["coding"][0]["code"] == "871731000000106"
    referral_id = request["id"]

    tasks = await collect(
        stack.kafka_bootstrap_servers, stack.topics.tasks, lambda seen: len(seen) >= 1
    )
    task = tasks[0]
    assert task["focus"]["reference"] == f"ServiceRequest/{referral_id}"
    assert task["status"] == "requested"
    assert task["businessStatus"]["coding"][0]["code"] == "offered"
    # The Twi-speaking carer-support worker wins: language (interpreter needed) and needs.
    assert task["owner"]["reference"] == "PractitionerRole/lw-cr-twi"
    assert task["meta"]["versionId"] == "1"

    engine = create_async_engine(stack.database_url)
    try:
        for _ in range(50):
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        text("select status, version from notifier.tasks where referral_id = :id"),
                        {"id": referral_id},
                    )
                ).first()
            if row:
                break
            await asyncio.sleep(0.2)
        assert row is not None, (
            "the notifier never recorded the Task:\n" + services["notifier"].tail()
        )
        assert (row.status, row.version) == ("requested", 1)
    finally:
        await engine.dispose()
