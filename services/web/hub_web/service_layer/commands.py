"""What people ask for through the forms, already checked for shape (use-case inputs)."""

from __future__ import annotations

from dataclasses import dataclass

from hub_web.domain.outcomes import Ons4


@dataclass(frozen=True)
class DeclineOffer:
    referral_id: str
    reason: str


@dataclass(frozen=True)
class RecordProgress:
    """A move through the status machine: a new status, a new step, or both, with a note."""

    referral_id: str
    status: str | None
    step: str | None
    note: str | None


@dataclass(frozen=True)
class RecordFirstContact:
    referral_id: str
    scores: Ons4
    note: str | None


@dataclass(frozen=True)
class CloseReferral:
    """Complete a referral: ONS4 at closure, the services the person joined, a summary."""

    referral_id: str
    scores: Ons4
    services_connected: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class AssignReferral:
    referral_id: str
    worker: str


@dataclass(frozen=True)
class ResubmitReferral:
    """A corrected referral, sent by its agency in one of its formats."""

    source: str
    body: bytes
