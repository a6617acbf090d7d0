"""Wellbeing change by cohort: the arithmetic, and that small groups show no figures."""

from __future__ import annotations

from datetime import UTC, datetime

from hub_common.fhir.task_outputs import Outcomes
from hub_common.fhir.wellbeing import INSTRUMENTS, Instrument, Timepoint, WellbeingMeasure
from hub_web.domain.tasks import TaskView, task_view
from hub_web.domain.wellbeing_change import MIN_PEOPLE, change_by_cohort, change_of
from tests.support.web_fakes import task

AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def ons4(when: Timepoint, satisfied: int, anxious: int) -> WellbeingMeasure:
    answers = (("satisfied", satisfied), ("worthwhile", 5), ("happy", 5), ("anxious", anxious))
    return WellbeingMeasure(Instrument.ONS4, when, AT, answers)


def swemwbs(when: Timepoint, each: int) -> WellbeingMeasure:
    codes = INSTRUMENTS[Instrument.SWEMWBS].codes
    return WellbeingMeasure(Instrument.SWEMWBS, when, AT, tuple((c, each) for c in codes))


def closed(n: int, source: str, *measures: WellbeingMeasure) -> TaskView:
    return task_view(
        task(
            f"r{source}{n}",
            status="completed",
            step="connected-to-services",
            source=source,
            outcomes=Outcomes(measures=measures),
        )
    )


def test_a_persons_change_is_closing_minus_first_on_each_instrument() -> None:
    view = closed(
        1,
        "fhir",
        ons4(Timepoint.FIRST_CONTACT, 3, 8),
        ons4(Timepoint.CLOSURE, 7, 4),
        swemwbs(Timepoint.FIRST_CONTACT, 3),  # raw 21: metric 19.25
        swemwbs(Timepoint.CLOSURE, 4),  # raw 28: metric 25.03
    )
    change = change_of(view)
    assert change is not None
    assert (change.satisfied, change.anxious, change.swemwbs) == (4, -4, 5.78)
    only_first = closed(2, "fhir", ons4(Timepoint.FIRST_CONTACT, 3, 8))
    assert change_of(only_first) is None


def test_cohorts_under_the_minimum_show_no_figures() -> None:
    big = [
        closed(n, "fhir", ons4(Timepoint.FIRST_CONTACT, 3, 8), ons4(Timepoint.CLOSURE, 3 + n, 6))
        for n in range(MIN_PEOPLE)
    ]
    small = [
        closed(n, "police", ons4(Timepoint.FIRST_CONTACT, 2, 9), ons4(Timepoint.CLOSURE, 9, 1))
        for n in range(MIN_PEOPLE - 1)
    ]
    rows = {row.cohort: row for row in change_by_cohort([*big, *small], "source")}
    assert (rows["fhir"].people, rows["fhir"].satisfied, rows["fhir"].anxious) == (5, 2.0, -2.0)
    assert rows["fhir"].swemwbs is None  # nobody measured with SWEMWBS
    police = rows["police"]
    assert police.suppressed and police.people == MIN_PEOPLE - 1
    assert (police.satisfied, police.anxious, police.swemwbs) == (None, None, None)
