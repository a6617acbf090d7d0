"""One person's wellbeing chart: first contact against closure, on each instrument's own scale
(the page that draws it: test_web_pages.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub_common.fhir.task_outputs import Outcomes
from hub_common.fhir.wellbeing import INSTRUMENTS, Instrument, Timepoint, WellbeingMeasure
from hub_web.domain.person_wellbeing import person_wellbeing_charts

FIRST_ONS4 = WellbeingMeasure(
    Instrument.ONS4,
    Timepoint.FIRST_CONTACT,
    datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7)),
)
CLOSING_ONS4 = WellbeingMeasure(
    Instrument.ONS4,
    Timepoint.CLOSURE,
    datetime(2027, 1, 20, 10, 0, tzinfo=UTC),
    (("satisfied", 7), ("worthwhile", 7), ("happy", 6), ("anxious", 3)),
)


def swemwbs(when: Timepoint, answer: int, day: int) -> WellbeingMeasure:
    codes = INSTRUMENTS[Instrument.SWEMWBS].codes
    return WellbeingMeasure(
        Instrument.SWEMWBS,
        when,
        datetime(2026, 12, day, tzinfo=UTC),
        tuple((code, answer) for code in codes),
    )


def test_each_instrument_is_a_chart_oldest_measure_first() -> None:
    outcomes = Outcomes(
        measures=(
            CLOSING_ONS4,
            FIRST_ONS4,
            swemwbs(Timepoint.CLOSURE, 4, 20),
            swemwbs(Timepoint.FIRST_CONTACT, 2, 1),
        )
    )
    sw, ons = person_wellbeing_charts(outcomes)
    assert [(r.label, r.total, r.limit) for r in sw.rows] == [
        ("Score at first contact", 15.32, 35.0),  # raw 14 -> metric 15.32
        ("Score at closure", 25.03, 35.0),  # raw 28 -> metric 25.03
    ]
    assert sw.figure(sw.rows[0].total) == "15.32" and sw.figure(35.0) == "35"
    assert [(r.label, r.total) for r in ons.rows[-2:]] == [
        ("Anxious (lower is better) at first contact", 7.0),
        ("Anxious (lower is better) at closure", 3.0),
    ]
    assert len(ons.rows) == 8 and {r.limit for r in ons.rows} == {10.0}


def test_no_measure_no_chart() -> None:
    assert person_wellbeing_charts(Outcomes()) == []
    [only] = person_wellbeing_charts(Outcomes(measures=(FIRST_ONS4,)))
    assert len(only.rows) == 4
