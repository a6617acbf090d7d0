"""The one background loop: it survives failures, backs off while they last, and drains work."""

from __future__ import annotations

import asyncio

import pytest

from hub_common import periodic
from hub_common.periodic import Periodic, drained


async def test_failures_back_off_up_to_the_limit_and_success_resets_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcomes = iter([OSError, OSError, OSError, None, OSError, None])
    waits: list[float] = []

    async def work() -> None:
        failure = next(outcomes)
        if failure is not None:
            raise failure("database restarting")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 6:
            raise asyncio.CancelledError

    monkeypatch.setattr(periodic.asyncio, "sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await Periodic("test work", work, interval=1.0, max_backoff=5.0).run()
    assert waits == [2.0, 4.0, 5.0, 1.0, 2.0, 1.0]


async def test_drained_work_claims_again_until_a_claim_comes_back_short() -> None:
    sizes = iter([10, 10, 3, 10])
    claims: list[int] = []

    async def claim(batch: int) -> int:
        claims.append(batch)
        return next(sizes)

    await drained(claim, 10)()
    assert claims == [10, 10, 10]
