"""A referrer's subscription: what it follows, how it is reached, and how its events are numbered.

Rules kept here, away from any I/O:
- an agency follows only its own organisation's Tasks (a filter naming anyone else is refused);
- event numbers of one subscription start at 1 and go up by one per event, with no gap, so a
  referrer who misses one can tell;
- events are delivered in number order: only a subscription's earliest unsent delivery may be
  in flight (enforced where deliveries are claimed, `adapters/delivery_store.py`).
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import parse_qsl


class Channel(StrEnum):
    """How notifications travel: HTTP POST to the referrer, or the referrer's Kafka topic."""

    REST_HOOK = "rest-hook"
    MESSAGE = "message"  # the agency's own `referrals.status.<source>.<agency>` on Kafka


class SubscriptionStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the handshake to succeed
    ACTIVE = "active"
    ERROR = "error"  # the endpoint is failing; deliveries are being retried
    OFF = "off"


LIVE = frozenset(
    {SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE, SubscriptionStatus.ERROR}
)
"""Statuses in which a subscription still receives events."""


class RefusedSubscription(ValueError):
    """The subscription cannot be accepted as asked; `field` names the element at fault."""

    def __init__(self, field: str, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.forbidden = forbidden


def check_filter(filter_criteria: str | None, organisation: str) -> str:
    """The filter an agency may have: `Task?requester=<its own organisation>` (the default).

    A filter naming another organisation is refused outright rather than narrowed silently:
    the caller asked for something they may not have, and should know.
    """
    own = f"Task?requester={organisation}"
    if not filter_criteria or filter_criteria.strip() in ("Task", "Task?"):
        return own
    resource, _, query = filter_criteria.strip().partition("?")
    if resource != "Task":
        raise RefusedSubscription("criteria", "only Task changes can be subscribed to")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in ("requester", "requester:identifier"):
            raise RefusedSubscription(
                "criteria", f"the only filter offered is requester, not {name!r}"
            )
        if value != organisation:
            raise RefusedSubscription(
                "criteria",
                "a subscription may follow only your own organisation's Tasks",
                forbidden=True,
            )
    return own


def number_events(events_since_start: int, count: int) -> tuple[range, int]:
    """Numbers for `count` new events after `events_since_start`, and the new counter.

    The caller holds the subscription's row lock while it numbers and records, so two changes
    committed concurrently can never take the same number or leave one out.
    """
    if count < 0 or events_since_start < 0:
        raise ValueError("counts are never negative")
    return range(events_since_start + 1, events_since_start + count + 1), events_since_start + count
