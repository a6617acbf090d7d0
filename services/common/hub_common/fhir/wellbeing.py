"""Wellbeing measures a link worker takes with the person: ONS4 and SWEMWBS. Pure.

A measure is one instrument's answers at one moment of the referral (first contact or
closure). Answers are checked against the instrument here, once, so every service that holds a
`WellbeingMeasure` can trust it; the errors name the item at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub_common.fhir.systems import HUB_BASE

WELLBEING_SYSTEM = f"{HUB_BASE}/CodeSystem/wellbeing-measure"
TIMEPOINT_SYSTEM = f"{HUB_BASE}/CodeSystem/measure-timepoint"
QUESTIONNAIRE_BASE = f"{HUB_BASE}/Questionnaire"


class Instrument(StrEnum):
    """A wellbeing questionnaire the hub knows."""

    ONS4 = "ons4"
    SWEMWBS = "swemwbs"


class Timepoint(StrEnum):
    """When in the referral a measure was taken."""

    FIRST_CONTACT = "first-contact"
    CLOSURE = "closure"


TIMEPOINT_DISPLAY = {Timepoint.FIRST_CONTACT: "At first contact", Timepoint.CLOSURE: "At closure"}


class InvalidMeasure(ValueError):
    """Answers that do not fit their instrument; `field` names the item (or part) at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Question:
    """One item of an instrument: its code (the Questionnaire linkId), words and answer range."""

    code: str
    text: str
    low: int
    high: int


@dataclass(frozen=True)
class InstrumentSpec:
    """An instrument's items, in the order they are asked, and how it is named and scored."""

    instrument: Instrument
    title: str
    questions: tuple[Question, ...]
    scale_hint: str

    @property
    def questionnaire_url(self) -> str:
        return f"{QUESTIONNAIRE_BASE}/{self.instrument.value}"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(q.code for q in self.questions)

    def question(self, code: str) -> Question:
        return next(q for q in self.questions if q.code == code)


def _ons4(code: str, text: str) -> Question:
    return Question(code, text, 0, 10)


def _swemwbs(code: str, text: str) -> Question:
    return Question(code, text, 1, 5)


INSTRUMENTS: dict[Instrument, InstrumentSpec] = {
    Instrument.ONS4: InstrumentSpec(
        Instrument.ONS4,
        "ONS personal wellbeing (ONS4)",
        (
            _ons4("satisfied", "Overall, how satisfied are you with your life nowadays?"),
            _ons4(
                "worthwhile",
                "Overall, to what extent do you feel the things you do in your life are "
                "worthwhile?",
            ),
            _ons4("happy", "Overall, how happy did you feel yesterday?"),
            _ons4("anxious", "Overall, how anxious did you feel yesterday?"),
        ),
        "Each answer from 0 (not at all) to 10 (completely).",
    ),
    Instrument.SWEMWBS: InstrumentSpec(
        Instrument.SWEMWBS,
        "Short Warwick-Edinburgh Mental Wellbeing Scale (SWEMWBS)",
        (
            _swemwbs("optimistic", "I've been feeling optimistic about the future"),
            _swemwbs("useful", "I've been feeling useful"),
            _swemwbs("relaxed", "I've been feeling relaxed"),
            _swemwbs("problems", "I've been dealing with problems well"),
            _swemwbs("clearly", "I've been thinking clearly"),
            _swemwbs("close", "I've been feeling close to other people"),
            _swemwbs("own-mind", "I've been able to make up my own mind about things"),
        ),
        "Over the last two weeks: 1 none of the time, 2 rarely, 3 some of the time, 4 often, "
        "5 all of the time.",
    ),
}

# SWEMWBS raw total (7-35) -> metric score, the Rasch-based conversion table published by
# Warwick Medical School ("SWEMWBS conversion table", WEMWBS user guide and
# https://warwick.ac.uk/fac/sci/med/research/platform/wemwbs/using/howto), from
# Stewart-Brown et al. 2009, Health and Quality of Life Outcomes 7:15. Comparisons across
# studies need the metric score, not the raw sum.
# fmt: off
SWEMWBS_METRIC: dict[int, float] = dict(zip(range(7, 36), (
    7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36,
    16.88, 17.43, 17.98, 18.59, 19.25, 19.98, 20.73, 21.54, 22.35, 23.21,
    24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, 35.00,
), strict=True))
# fmt: on


def swemwbs_metric(raw_total: int) -> float:
    """The published metric score for a SWEMWBS raw total."""
    if raw_total not in SWEMWBS_METRIC:
        raise InvalidMeasure("total", f"a SWEMWBS raw total is 7-35, not {raw_total}")
    return SWEMWBS_METRIC[raw_total]


@dataclass(frozen=True)
class WellbeingMeasure:
    """One instrument's answers, taken at first contact or at closure.

    `answers` are (item code, score) pairs; they are checked and put in the instrument's order.
    """

    instrument: Instrument
    when: Timepoint
    taken_at: datetime
    answers: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        try:
            instrument = Instrument(self.instrument)
            when = Timepoint(self.when)
        except ValueError as error:
            raise InvalidMeasure("instrument", str(error)) from None
        if self.taken_at.tzinfo is None:
            raise InvalidMeasure("takenAt", "the time a measure was taken needs a time zone")
        spec = INSTRUMENTS[instrument]
        given: dict[str, int] = {}
        for code, value in self.answers:
            if code not in spec.codes:
                raise InvalidMeasure(code, f"{instrument} has no item {code!r}")
            if code in given:
                raise InvalidMeasure(code, f"{instrument} item {code!r} is answered twice")
            given[code] = value
        for question in spec.questions:
            if question.code not in given:
                raise InvalidMeasure(
                    question.code, f"{instrument} item {question.code!r} is not answered"
                )
            value = given[question.code]
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not question.low <= value <= question.high
            ):
                raise InvalidMeasure(
                    question.code,
                    f"{instrument} item {question.code!r} must be a whole number from "
                    f"{question.low} to {question.high}, not {value!r}",
                )
        object.__setattr__(self, "instrument", instrument)
        object.__setattr__(self, "when", when)
        object.__setattr__(self, "answers", tuple((c, given[c]) for c in spec.codes))

    @property
    def spec(self) -> InstrumentSpec:
        return INSTRUMENTS[self.instrument]

    def score(self, code: str) -> int:
        """The answer to one item."""
        return dict(self.answers)[code]

    @property
    def raw_total(self) -> int | None:
        """SWEMWBS: the sum of the seven items (7-35). ONS4 items are never summed."""
        if self.instrument is not Instrument.SWEMWBS:
            return None
        return sum(value for _, value in self.answers)

    @property
    def metric_score(self) -> float | None:
        """SWEMWBS: the raw total converted with the published table."""
        total = self.raw_total
        return None if total is None else swemwbs_metric(total)
