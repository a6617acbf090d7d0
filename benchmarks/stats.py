"""The benchmark's arithmetic, as pure functions so a unit test can hold it to account.

Times are in milliseconds since the epoch (Kafka record timestamps are), latencies in
milliseconds, throughput in items per second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks.

    The same definition as numpy's default, so figures compare with other tools'. None for no
    values: an empty hop is "not measured", never zero.
    """
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99, max and mean of latencies (ms)."""
    summary: dict[str, float | int | None] = {"count": len(latencies)}
    for q in PERCENTILES:
        summary[f"p{q}"] = percentile(latencies, q)
    summary["max"] = max(latencies) if latencies else None
    summary["mean"] = sum(latencies) / len(latencies) if latencies else None
    return summary


def throughput(count: int, start_ms: float | None, end_ms: float | None) -> float | None:
    """Items per second over [start, end]; None when nothing (or no time) was measured."""
    if count <= 0 or start_ms is None or end_ms is None or end_ms <= start_ms:
        return None
    return count / ((end_ms - start_ms) / 1000)


def ratio(hub: float | None, raw: float | None) -> float | None:
    """hub / raw, or None when either side was not measured."""
    if hub is None or raw is None or raw <= 0:
        return None
    return hub / raw


def hop_latencies(
    starts: Mapping[str, float], ends: Mapping[str, float], keys: Iterable[str]
) -> list[float]:
    """end - start for every key that has both (a key missing either is simply not counted)."""
    return [ends[key] - starts[key] for key in keys if key in starts and key in ends]


def hop_throughput(
    starts: Mapping[str, float], ends: Mapping[str, float], keys: Iterable[str]
) -> float | None:
    """Completions of a hop per second: keys that finished it, over the time from the first
    of them entering to the last leaving. At saturation this is the hop's sustained rate."""
    done = [key for key in keys if key in starts and key in ends]
    if not done:
        return None
    return throughput(len(done), min(starts[k] for k in done), max(ends[k] for k in done))
