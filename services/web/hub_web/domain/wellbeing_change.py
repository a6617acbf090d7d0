"""How people's wellbeing changed between first contact and closure, by cohort (referral
source, need, borough), for coordinators and commissioners. Pure.

Change is the closing measure minus the first, of the same instrument, for each person whose
referral has both: SWEMWBS on its metric score; ONS4 on life satisfaction and on anxiety (the
ONS asks that its four items are never summed, so two are shown, the anxiety one falling when
people feel better). A cohort of fewer than `MIN_PEOPLE` people shows no figures at all, so no
one can be picked out of a small group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import fmean

from hub_common.fhir.wellbeing import Instrument, Timepoint
from hub_web.domain.naming import need_name
from hub_web.domain.tasks import TaskView

MIN_PEOPLE = 5


@dataclass(frozen=True)
class Change:
    """One person's change on each figure their measures allow."""

    swemwbs: float | None = None
    satisfied: int | None = None
    anxious: int | None = None


@dataclass(frozen=True)
class CohortRow:
    """A cohort's people and mean changes; the means are None when suppressed or unknown."""

    cohort: str
    people: int
    swemwbs: float | None
    satisfied: float | None
    anxious: float | None

    @property
    def suppressed(self) -> bool:
        return self.people < MIN_PEOPLE


def change_of(task: TaskView) -> Change | None:
    """The person's change, when both measures of an instrument were taken."""
    outcomes = task.outcomes
    first_sw = outcomes.measure(Instrument.SWEMWBS, Timepoint.FIRST_CONTACT)
    last_sw = outcomes.measure(Instrument.SWEMWBS, Timepoint.CLOSURE)
    first_ons = outcomes.measure(Instrument.ONS4, Timepoint.FIRST_CONTACT)
    last_ons = outcomes.measure(Instrument.ONS4, Timepoint.CLOSURE)
    swemwbs = None
    if (
        first_sw
        and last_sw
        and first_sw.metric_score is not None
        and last_sw.metric_score is not None
    ):
        swemwbs = round(last_sw.metric_score - first_sw.metric_score, 2)
    satisfied = anxious = None
    if first_ons and last_ons:
        satisfied = last_ons.score("satisfied") - first_ons.score("satisfied")
        anxious = last_ons.score("anxious") - first_ons.score("anxious")
    if swemwbs is None and satisfied is None:
        return None
    return Change(swemwbs, satisfied, anxious)


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 1) if values else None


def _cohorts_of(task: TaskView, by: str) -> tuple[str, ...]:
    if by == "source":
        return (task.source or "unknown",)
    if by == "borough":
        return ((task.routing.borough if task.routing else None) or "unknown",)
    needs = task.routing.needs if task.routing else ()
    return tuple(need_name(n) for n in needs) or ("no need recorded",)


def _figure(found: list[Change], pick: Callable[[Change], float | None]) -> float | None:
    """The cohort's mean change on one figure: none for a small cohort (suppressed)."""
    if len(found) < MIN_PEOPLE:
        return None
    return _mean([value for change in found if (value := pick(change)) is not None])


def change_by_cohort(tasks: Iterable[TaskView], by: str) -> list[CohortRow]:
    """One row per cohort (`source`, `need` or `borough`), largest first; a person with
    several needs counts in each."""
    changes: dict[str, list[Change]] = defaultdict(list)
    for task in tasks:
        if (change := change_of(task)) is not None:
            for cohort in _cohorts_of(task, by):
                changes[cohort].append(change)
    rows = [
        CohortRow(
            cohort,
            len(found),
            _figure(found, lambda c: c.swemwbs),
            _figure(found, lambda c: c.satisfied),
            _figure(found, lambda c: c.anxious),
        )
        for cohort, found in changes.items()
    ]
    return sorted(rows, key=lambda row: (-row.people, row.cohort))
