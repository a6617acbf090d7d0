"""One person's wellbeing, first contact against closure, as bar charts. Pure.

For the link worker holding the referral (and anyone else who reads the Task's outcomes): a
chart per instrument measured, each bar one answer at one moment, on the instrument's own
scale (the limit marker is the scale's top). SWEMWBS shows its metric score (7-35), the figure
the scale's authors publish; ONS4 shows its four items separately, as the ONS asks (never
summed; on "anxious" lower is better). Measures are taken at first contact and at closure
(`hub_common.fhir.wellbeing.Timepoint`), so a chart has one bar per moment measured.
"""

from __future__ import annotations

from hub_common.fhir.task_outputs import Outcomes
from hub_common.fhir.wellbeing import INSTRUMENTS, TIMEPOINT_DISPLAY, Instrument, WellbeingMeasure
from hub_web.domain.charts import BarChart, bar_chart

SWEMWBS_METRIC_TOP = 35.0
ONS4_WORDS = {
    "satisfied": "Life satisfaction",
    "worthwhile": "Things done are worthwhile",
    "happy": "Happy yesterday",
    "anxious": "Anxious (lower is better)",
}


def _moment(measure: WellbeingMeasure) -> str:
    """Short, so a bar's label fits a phone: "at first contact", "at closure"."""
    return TIMEPOINT_DISPLAY[measure.when].lower()


def _swemwbs(measures: list[WellbeingMeasure]) -> BarChart:
    rows = [(f"Score {_moment(m)}", [m.metric_score or 0.0], SWEMWBS_METRIC_TOP) for m in measures]
    title = f"{INSTRUMENTS[Instrument.SWEMWBS].title}: metric score"
    return bar_chart(title, "score", rows, row_heading="Moment", decimals=2)


def _ons4(measures: list[WellbeingMeasure]) -> BarChart:
    spec = INSTRUMENTS[Instrument.ONS4]
    rows = [
        (
            f"{ONS4_WORDS.get(q.code, q.code)} {_moment(m)}",
            [float(m.score(q.code))],
            float(q.high),
        )
        for q in spec.questions
        for m in measures
    ]
    return bar_chart(f"{spec.title}: each item, 0-10", "score", rows, row_heading="Item and moment")


def person_wellbeing_charts(outcomes: Outcomes) -> list[BarChart]:
    """A chart per instrument the person answered, their measures oldest first."""
    charts = []
    for instrument, draw in ((Instrument.SWEMWBS, _swemwbs), (Instrument.ONS4, _ons4)):
        measures = sorted(
            (m for m in outcomes.measures if m.instrument is instrument), key=lambda m: m.taken_at
        )
        if measures:
            charts.append(draw(measures))
    return charts
