"""What came of a referral, as coded data, and its FHIR R4 form inside the Task. Pure.

The contract between the router (which writes the Task), the web app and the notifier (which
read it back). `task_output_parts` gives the Task's `contained` resources and its `output`:

- each wellbeing measure: a contained QuestionnaireResponse (the answers, against the hub's
  Questionnaire) and a contained Observation (coded score, derivedFrom the response), and an
  output `wellbeing-measure` referencing the Observation;
- each support offered: a contained ServiceRequest (category referred | signposted | attended,
  reasonCode the need, performer the service) and an output `support-offered` referencing it;
- the summary, when there is one: an output `outcome` (valueString).

Every contained resource is referenced from the Task (FHIR invariant dom-3) and no element is
an empty string or array (FHIR forbids both). `read_outputs` is the inverse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY, NeedCategory
from hub_common.fhir.systems import HUB_BASE, SNOMED
from hub_common.fhir.wellbeing import (
    INSTRUMENTS,
    TIMEPOINT_DISPLAY,
    TIMEPOINT_SYSTEM,
    WELLBEING_SYSTEM,
    Instrument,
    InvalidMeasure,
    Timepoint,
    WellbeingMeasure,
)
from hub_common.region.directory import SERVICE_ID_SYSTEM

OUTPUT_TYPE_SYSTEM = f"{HUB_BASE}/CodeSystem/task-output-type"
SUPPORT_KIND_SYSTEM = f"{HUB_BASE}/CodeSystem/support-kind"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"

# SNOMED CT UK edition concept for the SWEMWBS score (as listed for the NHS Mental Health
# Services Data Set's outcome measures, range 7-35). No SNOMED CT or LOINC concept for ONS4 was
# found, so ONS4 is coded in the hub's wellbeing-measure CodeSystem only.
SNOMED_SWEMWBS_SCORE = ("718466001", "Short Warwick-Edinburgh Mental Well-being Scale score")

MAX_SERVICE_CHARS = 200
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class OutputType(StrEnum):
    """Codes of the task-output-type CodeSystem."""

    OUTCOME = "outcome"
    WELLBEING_MEASURE = "wellbeing-measure"
    SUPPORT_OFFERED = "support-offered"


OUTPUT_DISPLAY = {
    OutputType.OUTCOME: "Outcome",
    OutputType.WELLBEING_MEASURE: "Wellbeing measure",
    OutputType.SUPPORT_OFFERED: "Support offered",
}


class SupportKind(StrEnum):
    """How the person was helped to a service or activity."""

    REFERRED = "referred"
    SIGNPOSTED = "signposted"
    ATTENDED = "attended"


SUPPORT_DISPLAY = {
    SupportKind.REFERRED: "Referred",
    SupportKind.SIGNPOSTED: "Signposted",
    SupportKind.ATTENDED: "Attended",
}


class InvalidOutputs(ValueError):
    """Outcomes that cannot be recorded; `field` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SupportOffered:
    """A service or activity the person was referred or signposted to, or attended."""

    need: NeedCategory
    kind: SupportKind
    service: str  # its display name
    service_id: str | None = None  # a directory HealthcareService id, when known

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "need", NeedCategory(self.need))
        except ValueError:
            raise InvalidOutputs("need", f"no need category {self.need!r}") from None
        try:
            object.__setattr__(self, "kind", SupportKind(self.kind))
        except ValueError:
            raise InvalidOutputs("kind", f"no kind of support {self.kind!r}") from None
        service = self.service.strip()
        if not service or len(service) > MAX_SERVICE_CHARS:
            raise InvalidOutputs(
                "service", f"a service's name is 1 to {MAX_SERVICE_CHARS} characters"
            )
        object.__setattr__(self, "service", service)
        if self.service_id is not None and not FHIR_ID.match(self.service_id):
            raise InvalidOutputs("serviceId", "a service id is 1-64 letters, digits, - or .")


@dataclass(frozen=True)
class Outcomes:
    """What came of a referral: a summary in words, wellbeing measures, support offered."""

    summary: str | None = None
    measures: tuple[WellbeingMeasure, ...] = ()
    support: tuple[SupportOffered, ...] = field(default=())

    def __post_init__(self) -> None:
        summary = (self.summary or "").strip() or None
        object.__setattr__(self, "summary", summary)
        seen: set[tuple[Instrument, Timepoint]] = set()
        for measure in self.measures:
            key = (measure.instrument, measure.when)
            if key in seen:
                raise InvalidOutputs(
                    "measures", f"{measure.instrument} is recorded twice {measure.when}"
                )
            seen.add(key)

    @property
    def is_empty(self) -> bool:
        return self.summary is None and not self.measures and not self.support

    def measure(self, instrument: Instrument, when: Timepoint) -> WellbeingMeasure | None:
        return next(
            (m for m in self.measures if m.instrument is instrument and m.when is when), None
        )

    def with_measure(self, measure: WellbeingMeasure) -> Outcomes:
        """These outcomes with `measure` in place of any earlier one of its kind and moment."""
        others = tuple(
            m for m in self.measures if (m.instrument, m.when) != (measure.instrument, measure.when)
        )
        return replace(self, measures=(*others, measure))


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [_coding(system, code, display)]}
    if display:
        concept["text"] = display
    return concept


def _output(kind: OutputType, **value: Any) -> dict[str, Any]:
    return {"type": _concept(OUTPUT_TYPE_SYSTEM, kind, OUTPUT_DISPLAY[kind]), **value}


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def measure_code(measure: WellbeingMeasure) -> dict[str, Any]:
    spec = measure.spec
    codings = [_coding(WELLBEING_SYSTEM, measure.instrument, spec.title)]
    if measure.instrument is Instrument.SWEMWBS:
        codings.insert(0, _coding(SNOMED, *SNOMED_SWEMWBS_SCORE))
    return {"coding": codings, "text": spec.title}


def _response(measure: WellbeingMeasure, rid: str, subject: dict[str, Any]) -> dict[str, Any]:
    spec = measure.spec
    return {
        "resourceType": "QuestionnaireResponse",
        "id": rid,
        "questionnaire": spec.questionnaire_url,
        "status": "completed",
        "subject": subject,
        "authored": _instant(measure.taken_at),
        "item": [
            {
                "linkId": code,
                "text": spec.question(code).text,
                "answer": [{"valueInteger": value}],
            }
            for code, value in measure.answers
        ],
    }


def _observation(
    measure: WellbeingMeasure, oid: str, rid: str, subject: dict[str, Any]
) -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {
            "code": _concept(WELLBEING_SYSTEM, f"{measure.instrument}-{code}"),
            "valueInteger": value,
        }
        for code, value in measure.answers
    ]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [
            _concept(OBSERVATION_CATEGORY_SYSTEM, "survey", "Survey"),
            _concept(TIMEPOINT_SYSTEM, measure.when, TIMEPOINT_DISPLAY[measure.when]),
        ],
        "code": measure_code(measure),
        "subject": subject,
        "effectiveDateTime": _instant(measure.taken_at),
        "derivedFrom": [{"reference": f"#{rid}"}],
    }
    if measure.raw_total is not None:
        observation["valueInteger"] = measure.raw_total
        components.append(
            {
                "code": _concept(WELLBEING_SYSTEM, "swemwbs-metric", "SWEMWBS metric score"),
                "valueQuantity": {
                    "value": measure.metric_score,
                    "unit": "score",
                    "system": UCUM,
                    "code": "{score}",
                },
            }
        )
    observation["component"] = components
    return observation


def _service_request(support: SupportOffered, sid: str, subject: dict[str, Any]) -> dict[str, Any]:
    performer: dict[str, Any] = {"type": "HealthcareService", "display": support.service}
    if support.service_id:
        performer["identifier"] = {
            "system": SERVICE_ID_SYSTEM,
            "value": support.service_id,
        }
    return {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": "completed" if support.kind is SupportKind.ATTENDED else "active",
        "intent": "plan" if support.kind is SupportKind.SIGNPOSTED else "order",
        "category": [_concept(SUPPORT_KIND_SYSTEM, support.kind, SUPPORT_DISPLAY[support.kind])],
        "code": {"text": support.service},
        "subject": subject,
        "reasonCode": [_concept(NEED_CATEGORY_SYSTEM, support.need, NEED_DISPLAY[support.need])],
        "performer": [performer],
    }


def task_output_parts(
    outcomes: Outcomes, subject: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Task's `contained` resources and `output` entries for `outcomes`.

    `subject` is the Reference every contained resource is about: the Task's `for`, which names
    the person only by their episode identifier.
    """
    contained: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
    if outcomes.summary:
        output.append(_output(OutputType.OUTCOME, valueString=outcomes.summary))
    for measure in outcomes.measures:
        stem = f"{measure.instrument}-{measure.when}"
        rid, oid = f"qr-{stem}", f"obs-{stem}"
        contained += [
            _response(measure, rid, subject),
            _observation(measure, oid, rid, subject),
        ]
        output.append(
            _output(OutputType.WELLBEING_MEASURE, valueReference={"reference": f"#{oid}"})
        )
    for number, support in enumerate(outcomes.support, start=1):
        sid = f"support-{number}"
        contained.append(_service_request(support, sid, subject))
        output.append(_output(OutputType.SUPPORT_OFFERED, valueReference={"reference": f"#{sid}"}))
    return contained, output


class UnreadableOutputs(ValueError):
    """A Task output of a known type whose contained resource is missing or malformed."""


def _code_in(concept: dict[str, Any] | None, system: str) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    return None


def _instant_of(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise UnreadableOutputs(f"{what} is not a dateTime: {value!r}") from None
    return moment


def _read_measure(
    observation: dict[str, Any], by_id: dict[str, dict[str, Any]]
) -> WellbeingMeasure:
    code = _code_in(observation.get("code"), WELLBEING_SYSTEM)
    when = next(
        (_code_in(c, TIMEPOINT_SYSTEM) for c in observation.get("category") or []
         if _code_in(c, TIMEPOINT_SYSTEM)),
        None,
    )  # fmt: skip
    derived = [str(r.get("reference", "")) for r in observation.get("derivedFrom") or []]
    response = next((by_id[r[1:]] for r in derived if r[1:] in by_id), None)
    if code not in set(Instrument) or when is None or response is None:
        raise UnreadableOutputs(f"Observation {observation.get('id')} is not a hub measure")
    answers = []
    for item in response.get("item") or []:
        values = [a.get("valueInteger") for a in item.get("answer") or []]
        if len(values) != 1:
            raise UnreadableOutputs(f"item {item.get('linkId')} needs exactly one answer")
        answers.append((str(item.get("linkId")), values[0]))
    try:
        return WellbeingMeasure(
            Instrument(code),
            Timepoint(when),
            _instant_of(observation.get("effectiveDateTime"), "effectiveDateTime"),
            tuple(answers),
        )
    except InvalidMeasure as error:
        raise UnreadableOutputs(str(error)) from None


def _read_support(request: dict[str, Any]) -> SupportOffered:
    performer: dict[str, Any] = next(iter(request.get("performer") or []), {})
    kind = next((_code_in(c, SUPPORT_KIND_SYSTEM) for c in request.get("category") or []), None)
    need = next((_code_in(c, NEED_CATEGORY_SYSTEM) for c in request.get("reasonCode") or []), None)
    service_id = (performer.get("identifier") or {}).get("value")
    try:
        return SupportOffered(
            NeedCategory(str(need)),
            SupportKind(str(kind)),
            str(performer.get("display") or (request.get("code") or {}).get("text") or ""),
            str(service_id) if service_id else None,
        )
    except (ValueError, InvalidOutputs) as error:
        raise UnreadableOutputs(f"ServiceRequest {request.get('id')}: {error}") from None


def read_outputs(task: dict[str, Any]) -> Outcomes:
    """The outcomes a Task records (none when it has no output); the inverse of
    `task_output_parts`. Outputs of other types (intake's refusal issues, say) are ignored;
    a hub output whose contained resource is missing or malformed raises UnreadableOutputs."""
    by_id = {str(r.get("id")): r for r in task.get("contained") or [] if r.get("id")}
    summary: str | None = None
    measures: list[WellbeingMeasure] = []
    support: list[SupportOffered] = []
    for entry in task.get("output") or []:
        kind = _code_in(entry.get("type"), OUTPUT_TYPE_SYSTEM)
        if kind == OutputType.OUTCOME:
            summary = entry.get("valueString")
            continue
        if kind not in (OutputType.WELLBEING_MEASURE, OutputType.SUPPORT_OFFERED):
            continue
        reference = str((entry.get("valueReference") or {}).get("reference") or "")
        resource = by_id.get(reference.removeprefix("#")) if reference.startswith("#") else None
        if resource is None:
            raise UnreadableOutputs(f"{kind} output refers to {reference!r}, not contained")
        if kind == OutputType.WELLBEING_MEASURE:
            measures.append(_read_measure(resource, by_id))
        else:
            support.append(_read_support(resource))
    try:
        return Outcomes(summary, tuple(measures), tuple(support))
    except InvalidOutputs as error:
        raise UnreadableOutputs(str(error)) from None


__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "InvalidMeasure",
    "InvalidOutputs",
    "Outcomes",
    "SupportKind",
    "SupportOffered",
    "Timepoint",
    "UnreadableOutputs",
    "WellbeingMeasure",
    "read_outputs",
    "task_output_parts",
]
