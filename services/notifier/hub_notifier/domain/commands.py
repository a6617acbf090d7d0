"""Use-case inputs of the notifier."""

from __future__ import annotations

from dataclasses import dataclass

from hub_notifier.domain.subscription import Channel


@dataclass(frozen=True)
class CreateSubscription:
    """Register an agency's endpoint (or Kafka topic) for changes of its own Tasks."""

    organisation: str  # "system|value" of the authenticated agency
    channel: Channel
    endpoint: str | None
    headers: tuple[str, ...]
    filter_criteria: str | None
    reason: str
    heartbeat_seconds: int | None = None  # the Backport's heartbeatPeriod; rest-hook only
