"""Wellbeing measures and support offered: checked once, written as FHIR R4, read back intact."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import (
    InvalidOutputs,
    Outcomes,
    OutputType,
    SupportKind,
    SupportOffered,
    UnreadableOutputs,
    read_outputs,
    task_output_parts,
)
from hub_common.fhir.wellbeing import (
    INSTRUMENTS,
    Instrument,
    InvalidMeasure,
    Timepoint,
    WellbeingMeasure,
    swemwbs_metric,
)
from tests.unit.test_fhir_r4_schema import errors

AT = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
SUBJECT = {
    "type": "Patient",
    "identifier": {"system": "https://referral-hub.org/fhir/Id/episode", "value": "ep-1"},
}
ONS4 = (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7))
SWEMWBS = (
    ("optimistic", 3),
    ("useful", 2),
    ("relaxed", 4),
    ("problems", 3),
    ("clearly", 3),
    ("close", 2),
    ("own-mind", 4),
)


def ons4(when: Timepoint = Timepoint.FIRST_CONTACT) -> WellbeingMeasure:
    return WellbeingMeasure(Instrument.ONS4, when, AT, ONS4)


def swemwbs(when: Timepoint = Timepoint.CLOSURE) -> WellbeingMeasure:
    return WellbeingMeasure(Instrument.SWEMWBS, when, AT + timedelta(days=40), SWEMWBS)


FULL = Outcomes(
    "Joined a lunch club and sorted the rent arrears.",
    (ons4(), swemwbs()),
    (
        SupportOffered(
            NeedCategory.LONELINESS_ISOLATION,
            SupportKind.ATTENDED,
            "Thornton Heath lunch club",
            "hs-croydon-42",
        ),
        SupportOffered(
            NeedCategory.MONEY_DEBT_BENEFITS, SupportKind.REFERRED, "Croydon Citizens Advice"
        ),
        SupportOffered(NeedCategory.PHYSICAL_ACTIVITY, SupportKind.SIGNPOSTED, "Parkrun"),
    ),
)


def task_with(outcomes: Outcomes) -> dict[str, Any]:
    contained, output = task_output_parts(outcomes, SUBJECT)
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": "r1",
        "status": "completed",
        "intent": "order",
        "for": SUBJECT,
    }
    if contained:
        task["contained"] = contained
    if output:
        task["output"] = output
    return task


def test_everything_survives_the_round_trip() -> None:
    assert read_outputs(task_with(FULL)) == FULL


def answers(instrument: Instrument) -> st.SearchStrategy[tuple[tuple[str, int], ...]]:
    questions = INSTRUMENTS[instrument].questions
    return st.tuples(*(st.tuples(st.just(q.code), st.integers(q.low, q.high)) for q in questions))


measures = st.builds(
    WellbeingMeasure,
    st.just(Instrument.SWEMWBS),
    st.sampled_from(Timepoint),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: moment.replace(microsecond=0)),
    answers(Instrument.SWEMWBS),
)


@given(measures, answers(Instrument.ONS4))
def test_any_valid_answers_come_back_as_given(
    measure: WellbeingMeasure, ons4_answers: tuple[tuple[str, int], ...]
) -> None:
    other = WellbeingMeasure(Instrument.ONS4, measure.when, measure.taken_at, ons4_answers)
    outcomes = Outcomes(None, (measure, other), ())
    assert read_outputs(task_with(outcomes)) == outcomes


def test_the_published_fhir_is_valid_r4() -> None:
    task = task_with(FULL)
    assert errors(task) == []
    for resource in task["contained"]:
        assert errors(resource) == [], resource["id"]


def no_empties(value: Any, path: str = "Task") -> list[str]:
    if value in ("", [], {}, None):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in no_empties(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in no_empties(item, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize(
    "outcomes",
    [FULL, Outcomes("  only words  "), Outcomes(None, (ons4(),)), Outcomes(support=FULL.support)],
)
def test_no_empty_string_array_or_object_anywhere(outcomes: Outcomes) -> None:
    assert no_empties(task_with(outcomes)) == []


def test_nothing_to_record_gives_no_parts_at_all() -> None:
    assert task_output_parts(Outcomes(), SUBJECT) == ([], [])
    assert Outcomes("   ").is_empty


def test_every_contained_resource_is_referenced_from_the_task() -> None:
    """FHIR dom-3: a contained resource no one points at is invalid."""
    task = task_with(FULL)
    text = str(task["output"]) + str(task["contained"])
    for resource in task["contained"]:
        assert f"'#{resource['id']}'" in text, resource["id"]
    ids = [r["id"] for r in task["contained"]]
    assert len(ids) == len(set(ids))


def test_the_coded_shape_readers_rely_on() -> None:
    contained, output = task_output_parts(Outcomes(None, (swemwbs(),), FULL.support[:2]), SUBJECT)
    by_id = {r["id"]: r for r in contained}
    observation = by_id[output[0]["valueReference"]["reference"][1:]]
    assert observation["code"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "718466001",
        "display": "Short Warwick-Edinburgh Mental Well-being Scale score",
    }
    assert observation["valueInteger"] == 21
    assert observation["component"][-1]["valueQuantity"]["value"] == 19.25
    assert observation["subject"] == SUBJECT
    response = by_id[observation["derivedFrom"][0]["reference"][1:]]
    assert response["questionnaire"] == "https://referral-hub.org/fhir/Questionnaire/swemwbs"
    assert [i["answer"][0]["valueInteger"] for i in response["item"]] == [v for _, v in SWEMWBS]
    attended, referred = (by_id[o["valueReference"]["reference"][1:]] for o in output[1:])
    assert (attended["status"], attended["intent"]) == ("completed", "order")
    assert (referred["status"], referred["intent"]) == ("active", "order")
    assert attended["performer"] == [
        {
            "type": "HealthcareService",
            "display": "Thornton Heath lunch club",
            "identifier": {
                "system": "https://referral-hub.org/fhir/Id/directory-service",
                "value": "hs-croydon-42",
            },
        }
    ]
    assert "identifier" not in referred["performer"][0]
    assert attended["reasonCode"][0]["coding"][0]["code"] == "loneliness-isolation"
    signposted = task_output_parts(Outcomes(support=FULL.support[2:]), SUBJECT)[0][0]
    assert signposted["intent"] == "plan"


@pytest.mark.parametrize(
    ("raw", "metric"), [(7, 7.00), (8, 9.51), (21, 19.25), (34, 32.55), (35, 35.00)]
)
def test_swemwbs_raw_totals_convert_with_the_published_table(raw: int, metric: float) -> None:
    assert swemwbs_metric(raw) == metric


def test_a_swemwbs_measure_scores_its_total_and_metric() -> None:
    lowest = tuple((code, 1) for code, _ in SWEMWBS)
    measure = WellbeingMeasure(Instrument.SWEMWBS, Timepoint.CLOSURE, AT, lowest)
    assert (measure.raw_total, measure.metric_score) == (7, 7.00)
    assert (ons4().raw_total, ons4().metric_score) == (None, None)


@pytest.mark.parametrize("raw", [6, 36])
def test_a_raw_total_outside_the_table_is_refused(raw: int) -> None:
    with pytest.raises(InvalidMeasure, match=f"not {raw}"):
        swemwbs_metric(raw)


@pytest.mark.parametrize(
    ("instrument", "given", "field", "message"),
    [
        (Instrument.ONS4, (*ONS4[:3], ("anxious", 11)), "anxious", "from 0 to 10, not 11"),
        (Instrument.ONS4, (*ONS4[:3], ("anxious", -1)), "anxious", "from 0 to 10, not -1"),
        (Instrument.ONS4, ONS4[:3], "anxious", "'anxious' is not answered"),
        (Instrument.ONS4, (*ONS4, ("calm", 3)), "calm", "has no item 'calm'"),
        (Instrument.ONS4, (*ONS4, ("happy", 3)), "happy", "answered twice"),
        (Instrument.ONS4, (*ONS4[:3], ("anxious", True)), "anxious", "whole number"),
        (Instrument.SWEMWBS, (*SWEMWBS[:6], ("own-mind", 0)), "own-mind", "from 1 to 5, not 0"),
        (Instrument.SWEMWBS, ONS4, "satisfied", "swemwbs has no item 'satisfied'"),
    ],
)
def test_answers_that_do_not_fit_are_refused_naming_the_item(
    instrument: Instrument, given: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidMeasure, match=message) as raised:
        WellbeingMeasure(instrument, Timepoint.FIRST_CONTACT, AT, given)
    assert raised.value.field == field


def test_a_measure_needs_an_aware_time_and_a_known_moment() -> None:
    with pytest.raises(InvalidMeasure) as naive:
        WellbeingMeasure(Instrument.ONS4, Timepoint.CLOSURE, datetime(2026, 1, 1), ONS4)
    assert naive.value.field == "takenAt"
    with pytest.raises(InvalidMeasure):
        WellbeingMeasure(Instrument.ONS4, "halfway", AT, ONS4)  # type: ignore[arg-type]


def test_answers_are_kept_in_the_instruments_order() -> None:
    measure = WellbeingMeasure(Instrument.ONS4, Timepoint.CLOSURE, AT, tuple(reversed(ONS4)))
    assert measure.answers == ONS4
    assert measure.score("anxious") == 7


@pytest.mark.parametrize(
    ("need", "kind", "service", "service_id", "field"),
    [
        ("debts", "referred", "Citizens Advice", None, "need"),
        ("housing", "told-about", "Citizens Advice", None, "kind"),
        ("housing", "referred", "   ", None, "service"),
        ("housing", "referred", "x" * 201, None, "service"),
        ("housing", "referred", "Citizens Advice", "has spaces", "serviceId"),
    ],
)
def test_support_offered_is_refused_naming_the_field(
    need: str, kind: str, service: str, service_id: str | None, field: str
) -> None:
    with pytest.raises(InvalidOutputs) as raised:
        SupportOffered(need, kind, service, service_id)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_the_same_instrument_twice_at_one_moment_is_refused() -> None:
    with pytest.raises(InvalidOutputs, match="recorded twice"):
        Outcomes(None, (ons4(), ons4()))
    both = Outcomes(None, (ons4(), ons4(Timepoint.CLOSURE), swemwbs(Timepoint.FIRST_CONTACT)))
    assert len(both.measures) == 3


def test_with_measure_replaces_only_its_own_kind_and_moment() -> None:
    later = WellbeingMeasure(Instrument.ONS4, Timepoint.FIRST_CONTACT, AT, ONS4[::-1])
    updated = FULL.with_measure(later)
    assert updated.measure(Instrument.ONS4, Timepoint.FIRST_CONTACT) is later
    assert updated.measure(Instrument.SWEMWBS, Timepoint.CLOSURE) == swemwbs()
    assert updated.support == FULL.support


def test_a_task_without_outputs_reads_as_nothing_recorded() -> None:
    assert read_outputs({"resourceType": "Task"}) == Outcomes()
    refusal = {
        "output": [
            {
                "type": {"coding": [{"code": "issue"}]},
                "valueCodeableConcept": {"text": "person.nhs_number"},
            }
        ]
    }
    assert read_outputs(refusal) == Outcomes()


def test_an_output_pointing_at_nothing_is_unreadable() -> None:
    task = task_with(Outcomes(None, (ons4(),)))
    del task["contained"]
    with pytest.raises(UnreadableOutputs, match="not contained"):
        read_outputs(task)


def test_a_tampered_score_is_unreadable_rather_than_believed() -> None:
    task = task_with(Outcomes(None, (ons4(),)))
    response = next(r for r in task["contained"] if r["resourceType"] == "QuestionnaireResponse")
    response["item"][0]["answer"][0]["valueInteger"] = 42
    with pytest.raises(UnreadableOutputs, match="satisfied"):
        read_outputs(task)


PUBLISHED = Path(__file__).resolve().parents[2] / "schemas" / "fhir"


def published(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PUBLISHED / f"{name}.json").read_text())
    return document


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("CodeSystem-task-output-type", {t.value for t in OutputType}),
        ("CodeSystem-support-kind", {k.value for k in SupportKind}),
        ("CodeSystem-measure-timepoint", {t.value for t in Timepoint}),
        (
            "CodeSystem-wellbeing-measure",
            {i.value for i in Instrument}
            | {f"{i}-{q.code}" for i, spec in INSTRUMENTS.items() for q in spec.questions}
            | {"swemwbs-metric"},
        ),
    ],
)
def test_published_code_systems_hold_exactly_the_codes_the_hub_writes(
    name: str, codes: set[str]
) -> None:
    system = published(name)
    assert errors(system) == []
    assert {c["code"] for c in system["concept"]} == codes
    assert system["count"] == len(codes)


def test_every_code_written_is_in_its_published_code_system() -> None:
    systems = {
        (doc := published(p.stem))["url"]: {c["code"] for c in doc["concept"]}
        for p in PUBLISHED.glob("CodeSystem-*.json")
    }
    task = task_with(FULL)
    written = re.findall(r"'system': '([^']+)', 'code': '([^']+)'", str(task))
    hub = [(s, c) for s, c in written if s.startswith("https://referral-hub.org/fhir/CodeSystem/")]
    assert hub
    for system, code in hub:
        assert code in systems[system], (system, code)


@pytest.mark.parametrize("instrument", list(Instrument))
def test_published_questionnaires_ask_the_instruments_items(instrument: Instrument) -> None:
    spec = INSTRUMENTS[instrument]
    questionnaire = published(f"Questionnaire-{instrument}")
    assert errors(questionnaire) == []
    assert questionnaire["url"] == spec.questionnaire_url
    assert [i["linkId"] for i in questionnaire["item"]] == list(spec.codes)
    assert [[e["valueInteger"] for e in i["extension"]] for i in questionnaire["item"]] == [
        [q.low, q.high] for q in spec.questions
    ]
