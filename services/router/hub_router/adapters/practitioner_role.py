"""Link workers on the wire: FHIR PractitionerRole (contained Practitioner) <-> LinkWorker.

Limits and working pattern have no core PractitionerRole element, so they travel as hub
extensions; coverage is `location` text and specialties use the need-category CodeSystem.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NeedCategory
from hub_common.fhir.systems import HUB_BASE, LINK_WORKER_ID_SYSTEM
from hub_router.domain.model import WEEKDAYS, LinkWorker

EXT = f"{HUB_BASE}/StructureDefinition/link-worker"
DAY_CODES = {
    "Mon": "mon",
    "Tue": "tue",
    "Wed": "wed",
    "Thu": "thu",
    "Fri": "fri",
    "Sat": "sat",
    "Sun": "sun",
}


def to_practitioner_role(worker: LinkWorker, name: str, email: str | None) -> dict[str, Any]:
    # FHIR JSON forbids empty arrays: a list with nothing in it is left out altogether.
    practitioner: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": "practitioner",
        "name": [{"text": name}],
    }
    if worker.languages:
        practitioner["communication"] = [
            {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]}
            for language in sorted(worker.languages)
        ]
    if email:
        practitioner["telecom"] = [{"system": "email", "value": email}]
    limits: list[dict[str, Any]] = [
        {"url": "maxCaseload", "valueInteger": worker.max_caseload},
        {"url": "maxNewPerDay", "valueInteger": worker.max_new_per_day},
        {"url": "riskCleared", "valueBoolean": worker.risk_cleared},
        *({"url": "borough", "valueString": b} for b in sorted(worker.boroughs)),
        *({"url": "postcodeDistrict", "valueString": d} for d in sorted(worker.postcode_districts)),
        *(
            {"url": "leave", "valuePeriod": {"start": start.isoformat(), "end": end.isoformat()}}
            for start, end in worker.leave
        ),
    ]
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": worker.worker_id,
        "contained": [practitioner],
        "extension": [{"url": EXT, "extension": limits}],
        "identifier": [{"system": LINK_WORKER_ID_SYSTEM, "value": worker.worker_id}],
        "active": worker.active,
        "practitioner": {"reference": "#practitioner", "display": name},
        "code": [{"text": "Social prescribing link worker"}],
    }
    if worker.needs:
        role["specialty"] = [
            {"coding": [{"system": NEED_CATEGORY_SYSTEM, "code": need.value}]}
            for need in sorted(worker.needs)
        ]
    if days := [DAY_CODES[d] for d in WEEKDAYS if d in worker.working_days]:
        role["availableTime"] = [{"daysOfWeek": days}]
    return role


def from_practitioner_role(role: dict[str, Any]) -> LinkWorker:
    """Read a directory entry; raises ValueError naming what is wrong."""
    if role.get("resourceType") != "PractitionerRole":
        raise ValueError("resourceType: expected PractitionerRole")
    worker_id = role.get("id")
    if not worker_id:
        raise ValueError("id: a link worker needs an id")
    limits: dict[str, list[Any]] = {}
    for ext in role.get("extension", []):
        if ext.get("url") == EXT:
            for item in ext.get("extension", []):
                value = next((v for k, v in item.items() if k.startswith("value")), None)
                limits.setdefault(item.get("url"), []).append(value)
    practitioner: dict[str, Any] = next(
        (r for r in role.get("contained", []) if r.get("resourceType") == "Practitioner"), {}
    )
    languages = {
        coding["code"]
        for comm in practitioner.get("communication", [])
        for coding in comm.get("coding", [])
        if coding.get("code")
    }
    needs = {
        NeedCategory(coding["code"])
        for concept in role.get("specialty", [])
        for coding in concept.get("coding", [])
        if coding.get("system") == NEED_CATEGORY_SYSTEM
        and coding.get("code") in NeedCategory._value2member_map_
    }
    reverse_days = {code: day for day, code in DAY_CODES.items()}
    days = {
        reverse_days[d]
        for slot in role.get("availableTime", [])
        for d in slot.get("daysOfWeek", [])
        if d in reverse_days
    }
    return LinkWorker(
        worker_id=str(worker_id),
        boroughs=frozenset(limits.get("borough", [])),
        postcode_districts=frozenset(d.upper() for d in limits.get("postcodeDistrict", [])),
        needs=frozenset(needs),
        languages=frozenset(languages) or frozenset({"en"}),
        max_caseload=int((limits.get("maxCaseload") or [40])[0]),
        max_new_per_day=int((limits.get("maxNewPerDay") or [12])[0]),
        working_days=frozenset(days) if days else frozenset(WEEKDAYS[:5]),
        leave=tuple(
            (date.fromisoformat(p["start"]), date.fromisoformat(p["end"]))
            for p in limits.get("leave", [])
            if p
        ),
        risk_cleared=bool((limits.get("riskCleared") or [False])[0]),
        active=bool(role.get("active", True)),
    )


def practitioner_name(role: dict[str, Any]) -> str | None:
    """The worker's name as the directory gives it (the contained Practitioner's display)."""
    display = (role.get("practitioner") or {}).get("display")
    return str(display) if display else None
