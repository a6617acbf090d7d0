"""Link workers and referrals as the router sees them: only what assignment needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hub_common.fhir.needs import NeedCategory

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class LinkWorker:
    """A link worker's patch, skills and limits (from the directory's PractitionerRole)."""

    worker_id: str
    boroughs: frozenset[str]
    postcode_districts: frozenset[str]
    needs: frozenset[NeedCategory] = frozenset()
    languages: frozenset[str] = frozenset({"en"})
    max_caseload: int = 40
    max_new_per_day: int = 12
    working_days: frozenset[str] = frozenset(WEEKDAYS[:5])
    leave: tuple[tuple[date, date], ...] = ()
    risk_cleared: bool = False
    active: bool = True

    def covers(self, district: str, borough: str | None) -> bool:
        return district in self.postcode_districts or (
            borough is not None and borough in self.boroughs
        )

    def available_on(self, day: date) -> bool:
        if not self.active or WEEKDAYS[day.weekday()] not in self.working_days:
            return False
        return not any(start <= day <= end for start, end in self.leave)


@dataclass(frozen=True)
class Load:
    """How much a worker holds now: open referrals, and new ones offered or taken today."""

    active: int = 0
    new_today: int = 0


@dataclass(frozen=True)
class ReferralToRoute:
    """What the router needs of a ServiceRequest to choose a link worker."""

    referral_id: str
    episode_id: str
    district: str
    borough: str | None
    needs: frozenset[NeedCategory] = frozenset()
    language: str | None = None
    interpreter_needed: bool = False
    risk_flagged: bool = False
    excluded_workers: frozenset[str] = field(default_factory=frozenset)  # declined or timed out
