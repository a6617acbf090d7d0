"""The person behind a referral, as their link worker needs them: whom to phone, where, in
which language, what to know before visiting, and what the referrer said. Pure.

Read from the referral's FHIR ServiceRequest, which the notifier serves to the worker who
accepted it (and only while they work on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY, NeedCategory
from hub_common.fhir.refs import contained

NHS_COMMUNICATION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication"
RISK_WORDS = {
    "none": "None known",
    "low": "Low",
    "medium": "Medium: read the referrer's notes before visiting",
    "high": "High: do not visit alone",
}


@dataclass(frozen=True)
class PersonView:
    """What the worker reads first on a referral they hold."""

    name: str
    born: str | None
    nhs_number: str | None
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    address: str | None
    language: str | None  # a BCP 47 code as the referrer gave it
    interpreter_needed: bool
    risk: str
    needs: tuple[str, ...]  # the need categories in words, or the referrer's words
    referrer_words: tuple[str, ...]  # ServiceRequest.note: what matters, as the referrer wrote it
    referrer: str  # the person and organisation who referred, with how to reach them


def _name(patient: dict[str, Any]) -> str:
    name = (patient.get("name") or [{}])[0]
    if name.get("text"):
        return str(name["text"])
    words = [*name.get("given", []), name.get("family", "")]
    return " ".join(str(word) for word in words if word) or "Name not given"


def _telecom(resource: dict[str, Any], system: str) -> tuple[str, ...]:
    return tuple(
        str(t["value"])
        for t in resource.get("telecom") or []
        if t.get("system") == system and t.get("value")
    )


def _address(patient: dict[str, Any]) -> str | None:
    address = (patient.get("address") or [{}])[0]
    parts = [*address.get("line", []), address.get("city"), address.get("postalCode")]
    text = ", ".join(str(part) for part in parts if part)
    return text or None


def _language(patient: dict[str, Any]) -> str | None:
    for communication in patient.get("communication") or []:
        for coding in (communication.get("language") or {}).get("coding") or []:
            if coding.get("code"):
                return str(coding["code"])
    return None


def _interpreter(patient: dict[str, Any]) -> bool:
    for extension in patient.get("extension") or []:
        if extension.get("url") == NHS_COMMUNICATION:
            for inner in extension.get("extension") or []:
                if inner.get("url") == "interpreterRequired" and inner.get("valueBoolean"):
                    return True
    return False


def _need_words(reason: dict[str, Any]) -> str:
    for coding in reason.get("coding") or []:
        if coding.get("system") == NEED_CATEGORY_SYSTEM:
            try:
                return NEED_DISPLAY[NeedCategory(coding.get("code"))]
            except ValueError:
                break
    return str(reason.get("text") or "Need not coded")


def _referrer(request: dict[str, Any]) -> str:
    role = contained(request, (request.get("requester") or {}).get("reference"))
    person = contained(request, (role.get("practitioner") or {}).get("reference"))
    organisation = contained(request, (role.get("organization") or {}).get("reference"))
    who = _name(person) if person else None
    parts = [
        part
        for part in (
            who,
            organisation.get("name"),
            *_telecom(role, "phone"),
            *_telecom(role, "email"),
        )
        if part and part != "Name not given"
    ]
    return ", ".join(str(part) for part in parts) or "Not given"


def person_view(request: dict[str, Any]) -> PersonView:
    """The person of a ServiceRequest as intake writes it (contained Patient, requester)."""
    patient = contained(request, (request.get("subject") or {}).get("reference"))
    nhs_number = next(
        (
            str(i["value"])
            for i in patient.get("identifier") or []
            if i.get("system") == sys.NHS_NUMBER_SYSTEM and i.get("value")
        ),
        None,
    )
    risk = next(
        (
            str(e.get("valueCode"))
            for e in request.get("extension") or []
            if e.get("url") == sys.RISK_EXTENSION_URL
        ),
        "none",
    )
    return PersonView(
        name=_name(patient),
        born=patient.get("birthDate"),
        nhs_number=nhs_number,
        phones=_telecom(patient, "phone"),
        emails=_telecom(patient, "email"),
        address=_address(patient),
        language=_language(patient),
        interpreter_needed=_interpreter(patient),
        risk=RISK_WORDS.get(risk, risk),
        needs=tuple(_need_words(r) for r in request.get("reasonCode") or []),
        referrer_words=tuple(str(n["text"]) for n in request.get("note") or [] if n.get("text")),
        referrer=_referrer(request),
    )
