"""The coordinator's figures, computed from the Tasks their token lets them read.

Each function says what it cannot know: the APIs give Tasks of the coordinator's boroughs only
(a worker's referrals elsewhere are missing from their caseload here), no link worker limits,
and no Task history (first contact is known when this app recorded its time, or when it is the
Task's current step).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub_common.fhir.task_status import BusinessStatus as B
from hub_web.domain.progress import OPEN_STATUSES
from hub_web.domain.tasks import TaskView

CASELOAD_ORDER = OPEN_STATUSES  # stacked in this order: offers, then the work in hand


def caseload_by_worker(tasks: Iterable[TaskView]) -> dict[str, Counter[str]]:
    """Open referrals each link worker holds or is offered, by status, worker ids sorted."""
    loads: dict[str, Counter[str]] = defaultdict(Counter)
    for task in tasks:
        if task.owner and task.status in OPEN_STATUSES:
            loads[task.owner][task.status] += 1
    return dict(sorted(loads.items()))


def week_of(moment: datetime) -> str:
    """ISO week label, e.g. `2026-W47` (weeks start on Monday)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def referrals_per_source_week(
    tasks: Iterable[TaskView],
) -> tuple[list[str], dict[str, Counter[str]]]:
    """Sources seen (sorted), and per ISO week (oldest first) the referrals sent from each."""
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    sources: set[str] = set()
    for task in tasks:
        if task.authored_on is None or task.is_rejection:
            continue
        source = task.source or "unknown"
        sources.add(source)
        weeks[week_of(task.authored_on)][source] += 1
    return sorted(sources), dict(sorted(weeks.items()))


def first_contact_at(task: TaskView) -> datetime | None:
    """When first contact was made, where the Task tells: the time of the wellbeing measure
    taken then, else its last change while first contact is its current step."""
    if (measured := task.first_contact_measured_at) is not None:
        return measured
    if task.step == B.FIRST_CONTACT_MADE:
        return task.last_modified
    return None


def _median(waits: list[timedelta]) -> timedelta | None:
    if not waits:
        return None
    ordered = sorted(waits)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


CONTACT_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("Under 1 day", timedelta(days=1)),
    ("1 to 3 days", timedelta(days=3)),
    ("3 to 7 days", timedelta(days=7)),
    ("1 to 2 weeks", timedelta(days=14)),
    ("2 to 4 weeks", timedelta(days=28)),
    ("Over 4 weeks", timedelta.max),
)


@dataclass(frozen=True)
class ContactTimes:
    """How long referrals waited for first contact: counts per band, and the median."""

    bands: tuple[tuple[str, int], ...]
    median: timedelta | None
    measured: int
    not_yet_known: int


def time_to_first_contact(tasks: Iterable[TaskView]) -> ContactTimes:
    """Referral (authoredOn) to first contact, for the referrals where both are known."""
    waits: list[timedelta] = []
    unknown = 0
    for task in tasks:
        contact = first_contact_at(task)
        if contact is None or task.authored_on is None:
            unknown += 1
            continue
        # A referral authored by a clock running ahead must not show a negative wait.
        waits.append(max(contact - task.authored_on, timedelta(0)))
    counts = Counter(
        next(label for label, upper in CONTACT_BUCKETS if wait < upper) for wait in waits
    )
    return ContactTimes(
        bands=tuple((label, counts[label]) for label, _ in CONTACT_BUCKETS),
        median=_median(waits),
        measured=len(waits),
        not_yet_known=unknown,
    )


def describe_duration(duration: timedelta) -> str:
    """`2 days 4 hours`, `5 hours`, `under an hour`."""
    hours = int(duration.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} day{'s' * (days != 1)}" + (
            f" {hours} hour{'s' * (hours != 1)}" if hours else ""
        )
    return f"{hours} hour{'s' * (hours != 1)}" if hours else "under an hour"
