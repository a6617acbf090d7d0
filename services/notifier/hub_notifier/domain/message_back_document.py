"""The message back as a FHIR R4 document Bundle: one unit the GP practice's system files.

The PRSB Social Prescribing Information Standard's message back to the GP has four parts; the
document's Composition has a section for each, plus the entry to file:

- **person**: the person's demographics (the referral's Patient), their GP practice;
- **needs and concerns**: the referral, its reasons coded (the hub's need category and, where
  mapped, SNOMED CT; SNOMED CT reason codes the practice sent are kept);
- **record entry**: the SNOMED CT code of the moment (871731000000106 |Referral to social
  prescribing service| as a Procedure at acceptance, 871711000000103 |Social prescribing
  declined| as an Observation at decline);
- **support offered** and **outcomes** (at closure only): the Task's coded support offered
  (ServiceRequests) and wellbeing measures (Observations and their QuestionnaireResponses),
  the same resources the router writes (`hub_common/fhir/task_outputs.py`).

Never the link worker's free-text summary nor the referrer's words: coded entries the practice
can file, and generated narrative saying the same in words. Pure: built on read from what the
notifier keeps, so it is the same document however often it is asked for.
"""

from __future__ import annotations

import html
import uuid
from typing import Any

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NeedCategory
from hub_common.fhir.systems import HUB_BASE, NHS_NUMBER_SYSTEM, ODS_SYSTEM, SNOMED
from hub_common.fhir.task_outputs import Outcomes, task_output_parts
from hub_notifier.domain.message_back import DECLINED, MessageBack, Moment
from hub_notifier.domain.message_back_content import need_concept, outcome_lines

DOCUMENT_ID_SYSTEM = f"{HUB_BASE}/Id/message-back"
MOMENT_SYSTEM = f"{HUB_BASE}/CodeSystem/message-back-moment"
SECTION_SYSTEM = f"{HUB_BASE}/CodeSystem/message-back-section"
XHTML = "http://www.w3.org/1999/xhtml"
AUTHOR = "Social prescribing link worker service (referral hub)"
# Names the document's entries (urn:uuid) from the document id: the same on every read.
URN_NAMESPACE = uuid.UUID("9b0c3d8e-4f5a-4c61-8e2d-7a1b6c5d4e3f")

MOMENT_DISPLAY = {
    Moment.ACCEPTED: "Social prescribing message back: support accepted",
    Moment.DECLINED: "Social prescribing message back: support declined",
    Moment.CLOSED: "Social prescribing message back: referral closed",
}
SECTION_DISPLAY = {
    "person": "Person demographics",
    "needs-and-concerns": "Needs and concerns",
    "record-entry": "Code to record",
    "support-offered": "Support offered",
    "outcomes": "Outcomes",
}
REFERRAL_STATUS = {
    Moment.ACCEPTED: "active",
    Moment.DECLINED: "revoked",
    Moment.CLOSED: "completed",
}


def _urn(document: str, name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(URN_NAMESPACE, f'{document}/{name}')}"


def _narrative(lines: list[str]) -> dict[str, Any]:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines if line)
    return {"status": "generated", "div": f'<div xmlns="{XHTML}"><ul>{items}</ul></div>'}


def _contained(request: dict[str, Any], kind: str) -> dict[str, Any] | None:
    resources: list[dict[str, Any]] = request.get("contained") or []
    return next((r for r in resources if r.get("resourceType") == kind), None)


def _practice(request: dict[str, Any]) -> dict[str, Any] | None:
    """The requester Organization with an ODS code: the GP practice."""
    resources: list[dict[str, Any]] = request.get("contained") or []
    for resource in resources:
        systems = {i.get("system") for i in resource.get("identifier") or []}
        if resource.get("resourceType") == "Organization" and ODS_SYSTEM in systems:
            return resource
    return None


def _reason(concept: dict[str, Any]) -> dict[str, Any] | None:
    """A reason coded as the hub's need and SNOMED CT where mapped, keeping the practice's own
    SNOMED CT codes; the referrer's words (`text`) stay out."""
    codings = [c for c in concept.get("coding") or [] if c.get("code")]
    hub = next((c["code"] for c in codings if c.get("system") == NEED_CATEGORY_SYSTEM), None)
    if hub in set(NeedCategory):
        result = need_concept(NeedCategory(hub))
        known = {(c["system"], c["code"]) for c in result["coding"]}
        result["coding"] += [c for c in codings if (c.get("system"), c["code"]) not in known]
        return result
    snomed = [c for c in codings if c.get("system") == SNOMED]
    return {"coding": snomed} if snomed else None


def _needs(request: dict[str, Any]) -> list[dict[str, Any]]:
    reasons = [_reason(concept) for concept in request.get("reasonCode") or []]
    return [reason for reason in reasons if reason is not None]


def _record_entry(message: MessageBack, subject: dict[str, Any], when: str) -> dict[str, Any]:
    assert message.code is not None
    code = {"coding": [{"system": SNOMED, "code": message.code[0], "display": message.code[1]}]}
    if message.code == DECLINED:  # a situation: an Observation the practice files
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": code,
            "subject": subject,
            "effectiveDateTime": when,
        }
    return {  # the person took up the service: a Procedure
        "resourceType": "Procedure",
        "status": "completed",
        "code": code,
        "subject": subject,
        "performedDateTime": when,
    }


def _rewrite(value: Any, names: dict[str, str]) -> Any:
    """`value` with contained references (`#id`) replaced by the document's urn:uuid names."""
    if isinstance(value, dict):
        return {
            key: names.get(item, item) if key == "reference" and isinstance(item, str)
            else _rewrite(item, names)
            for key, item in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [_rewrite(item, names) for item in value]
    return value


def _outcome_resources(
    document: str, outcomes: Outcomes, subject: dict[str, Any]
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """The support offered and the measures as document entries (urn, resource), from the same
    mapping the router writes into the Task, with SNOMED CT added to each need."""
    contained, _ = task_output_parts(without_summary(outcomes), subject)
    names = {f"#{r['id']}": _urn(document, r["id"]) for r in contained}
    support, measures = [], []
    for resource in contained:
        urn = names[f"#{resource['id']}"]
        entry = _rewrite({k: v for k, v in resource.items() if k != "id"}, names)
        if entry["resourceType"] == "ServiceRequest":
            entry["reasonCode"] = [r for r in map(_reason, entry["reasonCode"]) if r]
            support.append((urn, entry))
        else:
            measures.append((urn, entry))
    return support, measures


def without_summary(outcomes: Outcomes) -> Outcomes:
    """The outcomes without the worker's free-text summary, which the practice never gets."""
    return Outcomes(None, outcomes.measures, outcomes.support)


def _section(key: str, lines: list[str], entries: list[str]) -> dict[str, Any]:
    section: dict[str, Any] = {
        "title": SECTION_DISPLAY[key],
        "code": {
            "coding": [{"system": SECTION_SYSTEM, "code": key, "display": SECTION_DISPLAY[key]}]
        },
        "text": _narrative(lines or ["None recorded."]),
    }
    if entries:
        section["entry"] = [{"reference": urn} for urn in entries]
    else:
        section["emptyReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "nilknown",
                    "display": "Nil Known",
                }
            ]
        }
    return section


def _person_lines(patient: dict[str, Any]) -> list[str]:
    name: dict[str, Any] = next(iter(patient.get("name") or []), {})
    words = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    numbers = [
        i["value"] for i in patient.get("identifier") or [] if i.get("system") == NHS_NUMBER_SYSTEM
    ]
    return [
        f"Name: {words}" if words else "",
        f"Born: {patient['birthDate']}" if patient.get("birthDate") else "",
        *(f"NHS number: {number}" for number in numbers[:1]),
    ]


def message_back_document(
    request: dict[str, Any], task: dict[str, Any], message: MessageBack, document: str
) -> dict[str, Any]:
    """The document Bundle of `message` for the referral `request`, as of the Task version
    `task` that marked its moment. `document` is its id (`<referral>-<moment>`)."""
    when = str((task.get("meta") or {}).get("lastUpdated") or task.get("lastModified"))
    patient_urn, practice_urn = _urn(document, "patient"), _urn(document, "practice")
    referral_urn, record_urn = _urn(document, "referral"), _urn(document, "record-entry")
    subject = {"reference": patient_urn}
    practice = _practice(request)
    patient = {k: v for k, v in (_contained(request, "Patient") or {}).items() if k != "id"}
    patient["resourceType"] = "Patient"
    if practice is not None:
        patient["generalPractitioner"] = [{"reference": practice_urn}]
    needs = _needs(request)
    referral: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": REFERRAL_STATUS[message.moment],
        "intent": "order",
        "code": request.get("code") or {"coding": [{"system": SNOMED, "code": "871731000000106"}]},
        "subject": subject,
    }
    if request.get("identifier"):
        referral["identifier"] = request["identifier"]
    if request.get("authoredOn"):
        referral["authoredOn"] = request["authoredOn"]
    if practice is not None:
        referral["requester"] = {"reference": practice_urn}
    if needs:
        referral["reasonCode"] = needs
    entries: list[tuple[str, dict[str, Any]]] = [(patient_urn, patient)]
    if practice is not None:
        entries.append((practice_urn, {k: v for k, v in practice.items() if k != "id"}))
    entries.append((referral_urn, referral))
    sections = [
        _section("person", _person_lines(patient), [patient_urn]),
        _section(
            "needs-and-concerns",
            [
                str(n.get("text") or n["coding"][0].get("display") or n["coding"][0]["code"])
                for n in needs
            ],
            [referral_urn],
        ),
    ]
    if message.code is not None:
        entries.append((record_urn, _record_entry(message, subject, when)))
        code, display = message.code
        sections.append(_section("record-entry", [f"SNOMED CT {code} |{display}|"], [record_urn]))
    if message.moment is Moment.CLOSED:
        outcomes = message.outcomes or Outcomes()
        support, measures = _outcome_resources(document, outcomes, subject)
        entries += support + measures
        support_lines = [
            line.removeprefix("- ")
            for line in outcome_lines(Outcomes(support=outcomes.support))[1:]
        ]
        measure_lines = outcome_lines(Outcomes(measures=outcomes.measures))
        sections.append(_section("support-offered", support_lines, [u for u, _ in support]))
        observations = [u for u, r in measures if r["resourceType"] == "Observation"]
        sections.append(_section("outcomes", measure_lines, observations))
    composition = {
        "resourceType": "Composition",
        "identifier": {"system": DOCUMENT_ID_SYSTEM, "value": document},
        "status": "final",
        "type": {
            "coding": [
                {
                    "system": MOMENT_SYSTEM,
                    "code": message.moment.value,
                    "display": MOMENT_DISPLAY[message.moment],
                }
            ],
            "text": MOMENT_DISPLAY[message.moment],
        },
        "subject": subject,
        "date": when,
        "author": [{"display": AUTHOR}],
        "title": MOMENT_DISPLAY[message.moment],
        "section": sections,
    }
    return {
        "resourceType": "Bundle",
        "id": document,
        "identifier": {"system": DOCUMENT_ID_SYSTEM, "value": document},
        "type": "document",
        "timestamp": when,
        "entry": [
            {"fullUrl": _urn(document, "composition"), "resource": composition},
            *({"fullUrl": urn, "resource": resource} for urn, resource in entries),
        ],
    }
