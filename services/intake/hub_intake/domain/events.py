"""What happened at intake, as the use cases record it: past-tense facts, typed.

The unit of work turns each into its outgoing event (topic, key, value, envelope) when it
writes the outbox, so the use cases say what happened and one place says how it is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ReferralRequested:
    """A new referral was recorded; `service_request` is its FHIR JSON, as published."""

    referral_id: str
    service_request: bytes
    traceparent: str | None


@dataclass(frozen=True)
class ReferralChanged:
    """Its sender cancelled or amended a referral: the ServiceRequest's next version."""

    referral_id: str
    kind: Literal["cancel", "amend"]
    service_request: dict[str, Any]
    traceparent: str | None


@dataclass(frozen=True)
class ReferralRejected:
    """A referral (or a whole message) was refused; `event` is the `referrals.rejected` value."""

    key: str
    event: dict[str, Any]
    traceparent: str | None


@dataclass(frozen=True)
class ReferralAcceptedWithWarnings:
    """A referral from Kafka was accepted with warnings, told on its agency's status topic;
    `agency` is the referring agency's `system|value`, as the ServiceRequest names it."""

    source: str
    agency: str
    referral_id: str
    outcome: dict[str, Any]
    traceparent: str | None


IntakeEvent = ReferralRequested | ReferralChanged | ReferralRejected | ReferralAcceptedWithWarnings
