"""The history probe (tests/support/history_probe.py) reads auto_explain's NOTICE messages into
per-statement times and plans, counting only once the warm-up batch is over."""

from __future__ import annotations

from tests.support.history_probe import Explained

SLOW = (
    "duration: 74.700 ms  plan:\n"
    "Query Text: SELECT person_id\n  FROM notifier.person_records WHERE birth_date = $1\n"
    "Bitmap Heap Scan on person_records  (cost=4.80..199.25 rows=50 width=18)\n  Recheck Cond: (birth_date = $1)"
)
SLOW_KEY = "SELECT person_id FROM notifier.person_records WHERE birth_date = $1"
FAST = "duration: 0.250 ms  plan:\nQuery Text: SELECT 1\nResult  (cost=0.00..0.01 rows=1)"


def test_statements_are_timed_and_ranked_slowest_first_after_the_warm_up() -> None:
    explained = Explained()
    explained.heard(SLOW)  # the warm-up batch: not counted
    explained.counting = True
    for message in (FAST, SLOW, FAST, "a NOTICE that is not a plan"):
        explained.heard(message)
    assert dict(explained.times) == {SLOW_KEY: [74.7], "SELECT 1": [0.25, 0.25]}
    assert "Bitmap Heap Scan on person_records" in explained.plans[SLOW_KEY]
    report = explained.report()
    assert report[0].startswith("    74.70 ms  x1") and report[1].startswith("     0.25 ms  x2")
