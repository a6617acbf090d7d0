"""The backoff schedule of failed deliveries."""

from datetime import UTC, datetime, timedelta

import pytest

from hub_notifier.domain.retry import RetryPolicy

POLICY = RetryPolicy(
    base=timedelta(seconds=5),
    factor=2.0,
    max_delay=timedelta(hours=1),
    retry_for=timedelta(hours=24),
    jitter=0.5,
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    seconds = [POLICY.nominal_delay(n).total_seconds() for n in range(1, 12)]
    assert seconds[:6] == [5, 10, 20, 40, 80, 160]
    assert max(seconds) == 3600
    assert seconds == sorted(seconds)


def test_a_very_long_outage_does_not_overflow() -> None:
    assert POLICY.nominal_delay(10_000) == timedelta(hours=1)


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.999])
def test_jitter_shortens_the_delay_by_at_most_half(draw: float) -> None:
    delay = POLICY.delay(3, draw)
    assert timedelta(seconds=10) <= delay <= timedelta(seconds=20)


def test_retries_continue_for_the_whole_window_then_stop() -> None:
    assert POLICY.next_attempt(40, START, START + timedelta(hours=23, minutes=59), 0.0)
    assert POLICY.next_attempt(41, START, START + timedelta(hours=24), 0.0) is None


def test_the_default_policy_retries_for_at_least_24_hours() -> None:
    policy = RetryPolicy()
    assert policy.retry_for >= timedelta(hours=24)
    # Walk the schedule with the longest delays: the last attempt is still a day after the first.
    now, attempt = START, 1
    while (retry := policy.next_attempt(attempt, START, now, 0.0)) is not None:
        now, attempt = retry, attempt + 1
    assert now - START >= timedelta(hours=24)
    assert attempt < 60  # and it does not hammer the endpoint meanwhile


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.0)
    with pytest.raises(ValueError):
        RetryPolicy(factor=0.5)
    with pytest.raises(ValueError):
        POLICY.nominal_delay(0)
