"""What the notifier publishes, as its use cases record it: past-tense facts, typed.

The unit of work turns each into its outgoing event (topic, key, value, envelope) when it
writes the outbox (`service_layer/unit_of_work.py`), so the use cases say what happened and
one place says how it is published.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusNotified:
    """A Kafka-channel subscription was notified of a change: `bundle` is the same FHIR
    notification Bundle a rest-hook receives, told on the subscribing agency's own status
    topic (`referrals.status.<source>.<agency>`, which no other agency may read)."""

    source: str  # the referral's agency format
    requester_org: str  # the subscribing organisation (`system|value`): whose topic it is
    referral_id: str
    bundle: bytes
    traceparent: str | None


NotifierEvent = StatusNotified
