"""What people ask for through the forms, already checked for shape (use-case inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_common.fhir.task_outputs import SupportOffered


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
    """First contact made, with the answers to the region's wellbeing instrument."""

    referral_id: str
    answers: tuple[tuple[str, int], ...]
    note: str | None


@dataclass(frozen=True)
class CloseReferral:
    """Complete a referral: the closing wellbeing answers, the support offered, a summary."""

    referral_id: str
    answers: tuple[tuple[str, int], ...]
    support: tuple[SupportOffered, ...]
    summary: str


@dataclass(frozen=True)
class RecordCarePlan:
    """A new version of the referral's care and support plan (the router's `$care-plan` body),
    replacing `version` (None for the first)."""

    referral_id: str
    body: dict[str, Any]
    version: int | None


@dataclass(frozen=True)
class AssignReferral:
    referral_id: str
    worker: str


@dataclass(frozen=True)
class ResubmitReferral:
    """A corrected referral, sent by its agency in one of its formats."""

    source: str
    body: bytes
