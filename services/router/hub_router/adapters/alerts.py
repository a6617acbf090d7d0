"""Alerts for coordinators on `hub.alerts`: ids and area only, never personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

AWAITING_ALLOCATION = "referral-awaiting-allocation"

Why = Literal["no-eligible-worker", "offers-exhausted"]


def awaiting_allocation_alert(
    *,
    referral_id: str,
    borough: str | None,
    failed_offers: int,
    why: Why,
    raised_at: datetime,
) -> dict[str, Any]:
    """A referral nobody (else) could be offered: a coordinator must allocate it. By ids and
    the borough only: its reader (the notifier) needs no more, and the postcode district
    narrows the person down (coordinators see it on the router's waiting list, audited)."""
    return {
        "alert": AWAITING_ALLOCATION,
        "why": why,
        "referralId": referral_id,
        "task": f"Task/{referral_id}",
        "borough": borough,
        "failedOffers": failed_offers,
        "raisedAt": raised_at.isoformat(),
    }


SLA_BREACH = "sla-breach"
SLA_BREACH_RESOLVED = "sla-breach-resolved"

Resolution = Literal["first-contact-made", "closed"]


def sla_breach_alert(
    *,
    referral_id: str,
    borough: str | None,
    rule: str,
    level: str,
    due_at: datetime,
    raised_at: datetime,
) -> dict[str, Any]:
    """An accepted referral missed a service level (`level` breach), or still has not met it
    well after (`level` escalated): raised once per referral, rule and level."""
    return {
        "alert": SLA_BREACH,
        "rule": rule,
        "level": level,
        "referralId": referral_id,
        "task": f"Task/{referral_id}",
        "borough": borough,
        "dueAt": due_at.isoformat(),
        "raisedAt": raised_at.isoformat(),
    }


def sla_resolved_alert(
    *,
    referral_id: str,
    borough: str | None,
    rule: str,
    resolution: Resolution,
    resolved_at: datetime,
) -> dict[str, Any]:
    """A referral with a raised breach of `rule` met it late or closed: every level resolves."""
    return {
        "alert": SLA_BREACH_RESOLVED,
        "rule": rule,
        "resolution": resolution,
        "referralId": referral_id,
        "task": f"Task/{referral_id}",
        "borough": borough,
        "raisedAt": resolved_at.isoformat(),
    }


ONWARD_NO_RESPONSE = "onward-no-response"


def onward_no_response_alert(
    *,
    referral_id: str,
    onward_id: str,
    service_id: str,
    borough: str | None,
    worker: str,
    due_at: datetime,
    raised_at: datetime,
) -> dict[str, Any]:
    """An onward referral nobody answered by its deadline was declined for the organisation:
    back to the link worker who sent it, to find the person another service."""
    return {
        "alert": ONWARD_NO_RESPONSE,
        "referralId": referral_id,
        "task": f"Task/{referral_id}",
        "onwardTask": f"Task/{onward_id}",
        "serviceId": service_id,
        "borough": borough,
        "worker": worker,
        "dueAt": due_at.isoformat(),
        "raisedAt": raised_at.isoformat(),
    }
