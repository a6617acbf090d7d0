"""The soak (`make soak`, ten minutes at 300 referrals/s) in a short version for every test run:
a steady load the hub must keep up with, judged the same way (lag bounded, memory flat, no
error line in any service's log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import parse_args, soak
from tests.support.infra import Infrastructure

pytestmark = pytest.mark.infra


@pytest.mark.timeout(300)
async def test_a_steady_load_leaves_lag_bounded_memory_flat_and_no_errors(
    infra: Infrastructure, tmp_path: Path
) -> None:
    args = parse_args(
        ["--rate", "60", "--minutes", "0.75", "--sample-seconds", "3", "--out", str(tmp_path)]
    )
    result = await soak(args, infra)
    verdict = result["verdict"]
    last = result["samples"][-1]
    print(f"\nshort soak: {last['sent']} referrals at 60/s over 45 s; verdict {verdict}")
    assert last["sent"] == 60 * 45
    assert result["webhook_requests"] > 0, "no referrer was notified during the soak"
    assert verdict["lag_bounded"]["passed"], verdict["lag_bounded"]
    assert verdict["memory_flat"]["passed"], verdict["memory_flat"]
    assert verdict["no_errors"]["passed"], f"{verdict['no_errors']}: see {tmp_path}/soak-logs"
