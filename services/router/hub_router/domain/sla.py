"""Service level timers of an accepted referral, and when each one is breached. Pure.

Two rules start when a link worker accepts a referral:

- **first contact**: the worker reaches the person within N working days (default 5);
- **closure**: the referral is closed within M weeks (default 12).

A first-contact breach still open E more working days after it was due (default 5) escalates:
a second alert, for a coordinator to step in. Each breach and escalation is raised once per
referral; it resolves when the referral reaches first contact (or closes, for both rules).

Working days are Monday to Friday except England & Wales bank holidays, counted in London's
calendar (the hub's boroughs are all in London), from the `holidays` package.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from hub_router.domain.task_status import OPEN, BusinessStatus, TaskStatus

LONDON = ZoneInfo("Europe/London")


class Rule(StrEnum):
    """Which promise an alert is about."""

    FIRST_CONTACT = "first-contact"
    CLOSURE = "closure"


class Level(StrEnum):
    """How far past its promise a referral is."""

    BREACH = "breach"
    ESCALATED = "escalated"


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share their bank holidays; "ENG" is the package's code for them.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not an England & Wales bank holiday."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (`start` itself never counts)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def london_day(moment: datetime) -> date:
    """The calendar day in London at `moment` (an aware datetime)."""
    return moment.astimezone(LONDON).date()


def end_of(day: date) -> datetime:
    """The first moment after `day` in London: a deadline "by the end of `day`"."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=LONDON)


@dataclass(frozen=True)
class SlaPolicy:
    """The hub's service levels (router settings)."""

    first_contact_working_days: int = 5
    closure_weeks: int = 12
    escalation_working_days: int = 5

    def first_contact_due(self, accepted_at: datetime) -> datetime:
        """By the end of the N-th working day after the day of acceptance."""
        return end_of(add_working_days(london_day(accepted_at), self.first_contact_working_days))

    def escalation_due(self, accepted_at: datetime) -> datetime:
        """E further working days after first contact was due."""
        due_day = add_working_days(london_day(accepted_at), self.first_contact_working_days)
        return end_of(add_working_days(due_day, self.escalation_working_days))

    def closure_due(self, accepted_at: datetime) -> datetime:
        """M weeks to the moment after acceptance."""
        return accepted_at + timedelta(weeks=self.closure_weeks)


@dataclass(frozen=True)
class SlaTimer:
    """One accepted referral's clock: when it started, what has happened, what was raised."""

    referral_id: str
    borough: str | None
    accepted_at: datetime
    first_contact_at: datetime | None = None
    closed_at: datetime | None = None
    raised: frozenset[tuple[Rule, Level]] = frozenset()


@dataclass(frozen=True)
class Breach:
    """An alert to raise: which referral, which rule, how far past, since when it was due."""

    referral_id: str
    borough: str | None
    rule: Rule
    level: Level
    due_at: datetime


def breaches(timer: SlaTimer, policy: SlaPolicy, now: datetime) -> list[Breach]:
    """The alerts `timer` needs at `now` that were not raised before (none once closed)."""
    if timer.closed_at is not None:
        return []
    found: list[Breach] = []

    def check(rule: Rule, level: Level, due_at: datetime) -> None:
        if now >= due_at and (rule, level) not in timer.raised:
            found.append(Breach(timer.referral_id, timer.borough, rule, level, due_at))

    if timer.first_contact_at is None:
        check(Rule.FIRST_CONTACT, Level.BREACH, policy.first_contact_due(timer.accepted_at))
        check(Rule.FIRST_CONTACT, Level.ESCALATED, policy.escalation_due(timer.accepted_at))
    check(Rule.CLOSURE, Level.BREACH, policy.closure_due(timer.accepted_at))
    return found


def next_due(timer: SlaTimer, policy: SlaPolicy) -> datetime | None:
    """The earliest deadline with no alert raised yet; None when nothing more can breach."""
    if timer.closed_at is not None:
        return None
    pending: list[datetime] = []
    if timer.first_contact_at is None:
        if (Rule.FIRST_CONTACT, Level.BREACH) not in timer.raised:
            pending.append(policy.first_contact_due(timer.accepted_at))
        if (Rule.FIRST_CONTACT, Level.ESCALATED) not in timer.raised:
            pending.append(policy.escalation_due(timer.accepted_at))
    if (Rule.CLOSURE, Level.BREACH) not in timer.raised:
        pending.append(policy.closure_due(timer.accepted_at))
    return min(pending, default=None)


def resolved_by(
    raised: Iterable[tuple[Rule, Level]], *, first_contact: bool, closed: bool
) -> list[Rule]:
    """The rules with alerts raised that this change resolves (each rule named once)."""
    rules = {rule for rule, _ in raised}
    out: list[Rule] = []
    if Rule.FIRST_CONTACT in rules and (first_contact or closed):
        out.append(Rule.FIRST_CONTACT)
    if Rule.CLOSURE in rules and closed:
        out.append(Rule.CLOSURE)
    return out


FIRST_CONTACT_STEPS = frozenset(
    {BusinessStatus.FIRST_CONTACT_MADE, BusinessStatus.CONNECTED_TO_SERVICES}
)
"""Steps that say the worker has reached the person."""


def clock_events(
    before: tuple[TaskStatus, BusinessStatus], after: tuple[TaskStatus, BusinessStatus]
) -> tuple[bool, bool, bool]:
    """What a Task change means to its clocks: (accepted, first contact made, closed)."""
    accepted = before[0] is TaskStatus.REQUESTED and after[0] is TaskStatus.ACCEPTED
    first_contact = after[1] in FIRST_CONTACT_STEPS and before[1] not in FIRST_CONTACT_STEPS
    closed = before[0] in OPEN and after[0] not in OPEN
    return accepted, first_contact, closed
