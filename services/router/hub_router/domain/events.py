"""What happened in the router, as the use cases record it: past-tense facts, typed.

The unit of work turns each into its outgoing event (topic, key, value, envelope) when it
writes the outbox at commit (`adapters/outgoing.py`), so a use case says what happened and
one place says how it is published. Alerts are the dicts of `adapters/alerts.py`, already in
the shape `referrals.alerts` carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.messaging.onward import OnwardKind
from hub_common.privacy.data_protection import DataProtectionRequest
from hub_router.domain.onward import OnwardReferral


@dataclass(frozen=True)
class TaskRecorded:
    """A Task reached a new version; `snapshot` is its FHIR Task, as published."""

    referral_id: str
    snapshot: dict[str, Any]
    traceparent: str | None


@dataclass(frozen=True)
class ReferralSetWaiting:
    """A referral was set waiting for a coordinator (no eligible worker, or offers used up)."""

    referral_id: str
    alert: dict[str, Any]
    traceparent: str | None


@dataclass(frozen=True)
class OnwardReferralChanged:
    """An onward referral was sent, answered, nudged or expired (`kind`)."""

    onward: OnwardReferral
    kind: OnwardKind
    occurred_at: datetime
    traceparent: str | None


@dataclass(frozen=True)
class OnwardReferralExpired:
    """An organisation left an onward referral unanswered past its deadline: the link worker
    is alerted."""

    referral_id: str
    alert: dict[str, Any]


@dataclass(frozen=True)
class ServiceLevelBreached:
    """A service level timer passed its deadline (one alert per rule and level)."""

    referral_id: str
    alert: dict[str, Any]


@dataclass(frozen=True)
class ServiceLevelResolved:
    """A Task change ended a breach raised before (one alert per rule)."""

    referral_id: str
    alert: dict[str, Any]
    traceparent: str | None


@dataclass(frozen=True)
class DataProtectionApplied:
    """The router applied an erasure or restriction request (`counts`: what it changed)."""

    request: DataProtectionRequest
    counts: dict[str, int]


RouterEvent = (
    TaskRecorded
    | ReferralSetWaiting
    | OnwardReferralChanged
    | OnwardReferralExpired
    | ServiceLevelBreached
    | ServiceLevelResolved
    | DataProtectionApplied
)
