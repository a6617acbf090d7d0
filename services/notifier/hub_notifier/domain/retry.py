"""When to try a failed delivery again, and when to give up on it.

Exponential backoff with jitter: a referrer's endpoint that comes back after an outage is not
hit by every retry at the same instant. Giving up is measured from the first attempt, not from
when the change happened, so a delivery queued behind a failing one still gets its full window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff schedule: `base * factor**(attempt-1)`, capped, jittered; give up after `retry_for`."""

    base: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    retry_for: timedelta = timedelta(hours=24)
    jitter: float = 0.5  # the delay is drawn from [1 - jitter, 1] of the nominal one

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        if self.factor < 1.0:
            raise ValueError("factor must be at least 1")

    def nominal_delay(self, attempt: int) -> timedelta:
        """The delay before attempt `attempt + 1`, without jitter (`attempt` counts from 1)."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        base = self.base.total_seconds()
        cap = self.max_delay.total_seconds()
        # Stop multiplying once past the cap: factor**attempt overflows for long outages.
        seconds = base
        for _ in range(attempt - 1):
            seconds *= self.factor
            if seconds >= cap:
                break
        return timedelta(seconds=min(seconds, cap))

    def delay(self, attempt: int, draw: float) -> timedelta:
        """The jittered delay; `draw` is a uniform random number in [0, 1)."""
        return self.nominal_delay(attempt) * (1.0 - self.jitter * draw)

    def next_attempt(
        self, attempt: int, first_attempt_at: datetime, now: datetime, draw: float
    ) -> datetime | None:
        """When to try again after failed attempt `attempt`, or None to dead-letter it."""
        if now - first_attempt_at >= self.retry_for:
            return None
        return now + self.delay(attempt, draw)
