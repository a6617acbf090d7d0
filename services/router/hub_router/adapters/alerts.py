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
    district: str,
    failed_offers: int,
    why: Why,
    raised_at: datetime,
) -> dict[str, Any]:
    """A referral nobody (else) could be offered: a coordinator must allocate it."""
    return {
        "alert": AWAITING_ALLOCATION,
        "why": why,
        "referralId": referral_id,
        "task": f"Task/{referral_id}",
        "borough": borough,
        "district": district,
        "failedOffers": failed_offers,
        "raisedAt": raised_at.isoformat(),
    }
