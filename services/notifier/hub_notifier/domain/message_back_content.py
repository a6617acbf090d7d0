"""What a closing message back tells the GP practice: the support offered and the wellbeing
measures, coded, as FHIR Parameters parts, and the same in words for an e-mail.

The PRSB standard's "support offered" and "assessments" sections: each service or activity
with the need it answers (the hub's code and, where mapped, SNOMED CT), how the person was
helped (referred, signposted, attended) and the service's directory id; each measure with its
instrument (SWEMWBS also as SNOMED CT 718466001), when it was taken, every item's answer and,
for SWEMWBS, the raw and metric scores. The link worker's free-text summary is not sent: it is
their words about the person, not a coded entry the practice can file.
"""

from __future__ import annotations

from typing import Any

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY, NEED_SNOMED, NeedCategory
from hub_common.fhir.systems import SNOMED
from hub_common.fhir.task_outputs import (
    SUPPORT_DISPLAY,
    SUPPORT_KIND_SYSTEM,
    Outcomes,
    SupportOffered,
    measure_code,
)
from hub_common.fhir.wellbeing import (
    TIMEPOINT_DISPLAY,
    TIMEPOINT_SYSTEM,
    WELLBEING_SYSTEM,
    WellbeingMeasure,
)
from hub_common.region.directory import SERVICE_ID_SYSTEM


def need_concept(need: NeedCategory) -> dict[str, Any]:
    """The need in the hub's CodeSystem and, when mapped, SNOMED CT."""
    codings = [{"system": NEED_CATEGORY_SYSTEM, "code": need.value, "display": NEED_DISPLAY[need]}]
    if (concept := NEED_SNOMED.get(need)) is not None:
        codings.append({"system": SNOMED, "code": concept.code, "display": concept.display})
    return {"coding": codings, "text": NEED_DISPLAY[need]}


def support_part(support: SupportOffered) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "need", "valueCodeableConcept": need_concept(support.need)},
        {
            "name": "kind",
            "valueCoding": {
                "system": SUPPORT_KIND_SYSTEM,
                "code": support.kind.value,
                "display": SUPPORT_DISPLAY[support.kind],
            },
        },
        {"name": "service", "valueString": support.service},
    ]
    if support.service_id:
        parts.append(
            {
                "name": "service-id",
                "valueIdentifier": {"system": SERVICE_ID_SYSTEM, "value": support.service_id},
            }
        )
    return {"name": "support-offered", "part": parts}


def measure_part(measure: WellbeingMeasure) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "instrument", "valueCodeableConcept": measure_code(measure)},
        {
            "name": "timepoint",
            "valueCoding": {
                "system": TIMEPOINT_SYSTEM,
                "code": measure.when.value,
                "display": TIMEPOINT_DISPLAY[measure.when],
            },
        },
        {"name": "taken", "valueDateTime": measure.taken_at.isoformat()},
    ]
    parts += [
        {
            "name": "item",
            "part": [
                {
                    "name": "code",
                    "valueCoding": {
                        "system": WELLBEING_SYSTEM,
                        "code": f"{measure.instrument.value}-{code}",
                    },
                },
                {"name": "value", "valueInteger": value},
            ],
        }
        for code, value in measure.answers
    ]
    if measure.raw_total is not None:
        parts.append({"name": "score", "valueInteger": measure.raw_total})
    if measure.metric_score is not None:
        parts.append({"name": "metric-score", "valueDecimal": measure.metric_score})
    return {"name": "wellbeing", "part": parts}


def outcome_parts(outcomes: Outcomes) -> list[dict[str, Any]]:
    """Support offered first, then the measures in the order they were taken."""
    measures = sorted(outcomes.measures, key=lambda m: m.taken_at)
    return [*(support_part(s) for s in outcomes.support), *(measure_part(m) for m in measures)]


def outcome_lines(outcomes: Outcomes) -> list[str]:
    """The same, in words, for the e-mail of a GP practice with no system of its own."""
    lines: list[str] = []
    if outcomes.support:
        lines.append("Support offered:")
        lines += [
            f"- {s.service}: {SUPPORT_DISPLAY[s.kind].lower()} ({NEED_DISPLAY[s.need].lower()})"
            for s in outcomes.support
        ]
    for measure in sorted(outcomes.measures, key=lambda m: m.taken_at):
        answers = ", ".join(f"{code} {value}" for code, value in measure.answers)
        total = (
            f"; total {measure.raw_total} (metric {measure.metric_score:.2f})"
            if measure.raw_total is not None and measure.metric_score is not None
            else ""
        )
        lines.append(
            f"{measure.spec.title}, {TIMEPOINT_DISPLAY[measure.when].lower()} "
            f"({measure.taken_at:%d %B %Y}): {answers}{total}"
        )
    return lines
