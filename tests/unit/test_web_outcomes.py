"""The link worker's wellbeing and support forms, and the body the web app sends the router."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import INSTRUMENTS, Instrument, Timepoint, WellbeingMeasure
from hub_router.entrypoints.outcome_bodies import OutputsBody
from hub_web.adapters.outputs_body import outputs_body
from hub_web.config import WebSettings
from hub_web.entrypoints import forms

SWEMWBS = INSTRUMENTS[Instrument.SWEMWBS]


def test_swemwbs_answers_are_read_from_fields_named_after_its_items() -> None:
    fields = {q.code: str(n) for n, q in enumerate(SWEMWBS.questions, start=1) if n <= 5}
    fields |= {"close": "2", "own-mind": " 4 "}
    assert forms.answers(fields, SWEMWBS)[-2:] == (("close", 2), ("own-mind", 4))


@pytest.mark.parametrize("value", ["0", "6", "", "three", "-1"])
def test_a_swemwbs_answer_off_the_scale_names_the_question(value: str) -> None:
    fields = {q.code: "3" for q in SWEMWBS.questions} | {"useful": value}
    with pytest.raises(forms.FormProblem, match="from 1 to 5 \\(I've been feeling useful\\)"):
        forms.answers(fields, SWEMWBS)


def test_support_rows_skip_blank_ones_and_name_the_row_at_fault() -> None:
    rows = forms.support(
        ["housing", "", "food-insecurity"],
        ["Croydon housing advice", "", " Norbury food pantry "],
        ["referred", "", "signposted"],
    )
    assert rows == (
        SupportOffered(NeedCategory.HOUSING, SupportKind.REFERRED, "Croydon housing advice"),
        SupportOffered(NeedCategory.FOOD_INSECURITY, SupportKind.SIGNPOSTED, "Norbury food pantry"),
    )
    with pytest.raises(forms.FormProblem, match="Support 2: choose the need"):
        forms.support(["", ""], ["", "Choir"], ["", "attended"])
    with pytest.raises(forms.FormProblem, match="Support 1: say whether"):
        forms.support(["housing"], ["Choir"], [""])
    with pytest.raises(forms.FormProblem, match="Support 1: a service's name is 1 to 200"):
        forms.support(["housing"], ["x" * 201], ["referred"])


def test_the_region_chooses_its_instrument_with_ons4_by_default() -> None:
    assert WebSettings().wellbeing_instrument is Instrument.ONS4
    chosen = WebSettings.model_validate({"HUB_WELLBEING_INSTRUMENT": "swemwbs"})
    assert chosen.wellbeing_instrument is Instrument.SWEMWBS


def answers(instrument: Instrument) -> st.SearchStrategy[tuple[tuple[str, int], ...]]:
    questions = INSTRUMENTS[instrument].questions
    return st.tuples(*(st.tuples(st.just(q.code), st.integers(q.low, q.high)) for q in questions))


supports = st.builds(
    SupportOffered,
    st.sampled_from(NeedCategory),
    st.sampled_from(SupportKind),
    st.text(st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=200).filter(str.strip),
    st.none() | st.from_regex(r"\A[a-z0-9\-]{1,20}\Z"),
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@given(
    answers(Instrument.ONS4),
    answers(Instrument.SWEMWBS),
    moments,
    st.lists(supports, max_size=5),
    st.none() | st.text(max_size=100),
)
def test_what_the_web_sends_the_router_reads_as_the_same_outcomes(
    ons4: tuple[tuple[str, int], ...],
    swemwbs: tuple[tuple[str, int], ...],
    at: datetime,
    support: list[SupportOffered],
    summary: str | None,
) -> None:
    outcomes = Outcomes(
        summary.replace("\x00", "") if summary else None,
        (
            WellbeingMeasure(Instrument.ONS4, Timepoint.FIRST_CONTACT, at, ons4),
            WellbeingMeasure(Instrument.SWEMWBS, Timepoint.CLOSURE, at, swemwbs),
        ),
        tuple(support),
    )
    assert OutputsBody.model_validate(outputs_body(outcomes)).to_domain() == outcomes
