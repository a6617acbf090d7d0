"""Kill the intake process (SIGKILL) again and again while it works through a backlog that has
poison messages in it: afterwards every referral is published under exactly one id, every bad
message is on referrals.rejected, and nothing is left behind in the outbox."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.fixtures import inbound
from tests.support.kafka_io import collect, publish_many
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

REFERRALS = 1800
KILLS = 5
POISON = [
    b"{not json at all",
    b"[1, 2, 3]",
    bytes(range(256)),
    b"",
    b'{"form_id": 42, "person": "x"}',
]


def referral(index: int) -> bytes:
    document = json.loads(inbound("community-referral.json"))
    document["form_id"] = f"CRASH-{index:05d}"
    document["person"]["family_name"] = f"Person{index}"
    return json.dumps(document).encode()


async def scalar(database_url: str, sql: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def test_killing_intake_mid_stream_loses_nothing_and_never_changes_an_id(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    messages = [(f"CRASH-{i:05d}", referral(i)) for i in range(REFERRALS)]
    for position, poison in zip(
        range(50, REFERRALS, REFERRALS // len(POISON)), POISON, strict=False
    ):
        # Same key as a good referral: the poison sits on a partition with work behind it.
        messages.insert(position, (messages[position][0], poison))
    waves = [messages[i :: KILLS + 1] for i in range(KILLS + 1)]

    logs = tmp_path_factory.mktemp("intake-crash")
    rng = random.Random(7)
    intake = ServiceProcess("intake", stack.env(), logs).start()
    kills = interrupted = sent = 0
    try:
        # Each wave is published while intake runs, and intake is killed while it works on it.
        for wave in waves[:-1]:
            await publish_many(
                stack.kafka_bootstrap_servers, stack.topics.inbound("community"), wave
            )
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            intake.kill()
            kills += 1
            sent += len(wave)
            if await scalar(stack.database_url, "select count(*) from intake.referrals") < sent - 5:
                interrupted += 1  # killed with work still to do (5 of each wave are poison)
            intake = ServiceProcess("intake", stack.env(), logs).start()
        await publish_many(
            stack.kafka_bootstrap_servers, stack.topics.inbound("community"), waves[-1]
        )
        published = await collect(
            stack.kafka_bootstrap_servers,
            stack.topics.requested,
            lambda seen: len({r["identifier"][1]["value"] for r in seen}) >= REFERRALS,
            timeout=120,
        )
        rejected = await collect(
            stack.kafka_bootstrap_servers,
            stack.topics.rejected,
            lambda seen: len({e["rejectionId"] for e in seen}) >= len(POISON),
            timeout=60,
        )
        done_before_kill = await scalar(stack.database_url, "select count(*) from intake.referrals")
    finally:
        intake.stop()

    ids_by_reference: dict[str, set[str]] = {}
    for request in published:
        ids_by_reference.setdefault(request["identifier"][1]["value"], set()).add(request["id"])
    assert len(ids_by_reference) == REFERRALS, "a referral was lost"
    changed = {ref: ids for ref, ids in ids_by_reference.items() if len(ids) > 1}
    assert not changed, f"published under more than one id: {changed}"
    assert kills == KILLS
    assert interrupted >= 1, "no kill landed while intake had work in hand: the test proved nothing"
    assert len({e["rejectionId"] for e in rejected}) == len(POISON)
    assert done_before_kill == REFERRALS
    assert await scalar(stack.database_url, "select count(*) from intake.outbox") == 0
    redelivered = len(published) - REFERRALS
    print(
        f"\nintake crash test: {REFERRALS} referrals in {len(waves)} waves, {len(POISON)} poison, "
        f"{kills} SIGKILLs ({interrupted} with work in hand), {redelivered} duplicate publications (same id), 0 lost"
    )
