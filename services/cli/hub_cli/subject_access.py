"""`referral-hub subject-access export`: everything the hub holds about one person.

Services share nothing but events, so the export is assembled here from their parts: the
notifier names the person's referrals (`$match`, from its person linking), then intake, the
router and the notifier each answer `GET /operator/subject-access` with their own records
about them (hub_common/privacy/subject_access.py), all with the operator's token. Each call is an
audit entry in the service that answers it, so the export is on record before any of it
arrives here. The result is one FHIR Bundle (type `collection`) and a readable summary in
Markdown, for the person or for whoever answers their request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from hub_common.privacy.subject_access import MAX_REFERRALS, ROUTE

SERVICES = ("intake", "router", "notifier")
KEYS = ("nhs-number", "family", "birthdate", "postcode", "referral")


class ExportRefused(RuntimeError):
    """A service refused or failed the request: its answer, never records."""


@dataclass(frozen=True)
class Export:
    referral_ids: list[str]
    bundle: dict[str, Any]
    summary: str
    seconds: float


def _check(answer: httpx.Response, service: str) -> Any:
    if answer.status_code != 200:
        try:
            detail = answer.json().get("detail") or answer.json()
        except ValueError:
            detail = answer.text[:200]
        raise ExportRefused(f"{service} answered {answer.status_code}: {detail}")
    return answer.json()


async def export(
    urls: Mapping[str, str],
    token: str,
    keys: Mapping[str, str],
    *,
    now: datetime | None = None,
    request_seconds: float = 60.0,
) -> Export:
    """Find the person by `keys` (KEYS), fetch each service's part, assemble them."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=request_seconds, headers=headers) as client:
        notifier = urls["notifier"].rstrip("/")
        found = _check(await client.get(f"{notifier}{ROUTE}/$match", params=dict(keys)), "notifier")
        referral_ids: list[str] = list(found["referralIds"])
        chunks = [
            referral_ids[i : i + MAX_REFERRALS] for i in range(0, len(referral_ids), MAX_REFERRALS)
        ]

        async def part(service: str, chunk: Sequence[str]) -> list[dict[str, Any]]:
            answer = await client.get(
                f"{urls[service].rstrip('/')}{ROUTE}", params=[("referral", i) for i in chunk]
            )
            return list(_check(answer, service).get("entry", []))

        parts = await asyncio.gather(*(part(s, c) for s in SERVICES for c in chunks))
    bundle = assemble(parts, now or datetime.now(UTC))
    return Export(referral_ids, bundle, summary(bundle, referral_ids), time.monotonic() - started)


def assemble(parts: Sequence[Sequence[Mapping[str, Any]]], at: datetime) -> dict[str, Any]:
    """One `collection` Bundle of every part's entries (each service's, in SERVICES order)."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": at.isoformat(),
    }
    entries = [dict(entry) for found in parts for entry in found]
    if entries:  # FHIR forbids an empty array
        bundle["entry"] = entries
    return bundle


def _held_by(resource: Mapping[str, Any]) -> str:
    return str((resource.get("meta") or {}).get("source", "")).rsplit("/", 1)[-1]


def _referral_of(resource: Mapping[str, Any]) -> str | None:
    """The referral a resource is about, by the hub's conventions (see the stores)."""
    kind = resource["resourceType"]
    if kind in ("ServiceRequest", "CarePlan", "Patient") and "basedOn" not in resource:
        return str(resource.get("id"))
    if kind == "Task":
        part_of = resource.get("partOf") or []
        if part_of:
            return str(part_of[0].get("reference", "")).rsplit("/", 1)[-1]
        return str(resource.get("id"))
    if kind == "ServiceRequest":
        return str(resource["basedOn"][0].get("reference", "")).rsplit("/", 1)[-1]
    if kind == "Communication":
        return str(resource["about"][0]["identifier"]["value"])
    return None


def _text(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "/")


def _person_lines(resources: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        name = (patient.get("name") or [{}])[0]
        names = " ".join([*name.get("given", []), name.get("family", "")]).strip()
        nhs = next((i["value"] for i in patient.get("identifier", [])), "none")
        lines.append(
            f"- Kept to link referral `{patient['id']}`: name {_text(names) or '-'}, "
            f"born {patient.get('birthDate', '-')}, NHS number {nhs}, "
            f"postcode {(patient.get('address') or [{}])[0].get('postalCode', '-')}"
        )
    return lines


def _task_lines(tasks: list[Mapping[str, Any]]) -> list[str]:
    if not tasks:
        return []
    latest = max(tasks, key=lambda t: int((t.get("meta") or {}).get("versionId", 0)))
    business = (latest.get("businessStatus") or {}).get("text") or next(
        (c.get("code") for c in (latest.get("businessStatus") or {}).get("coding", [])), "-"
    )
    outputs = Counter(
        next((c.get("code") for c in o.get("type", {}).get("coding", [])), "output")
        for o in latest.get("output", [])
    )
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(outputs.items())) or "none"
    owner = (latest.get("owner") or {}).get("reference", "nobody")
    lines = [
        f"- Task: {len(tasks)} version(s) kept; now {latest.get('status')} ({_text(business)}), "
        f"held by {owner}; recorded outputs: {summary}"
    ]
    lines += [
        f"  - outcome: {_text(o['valueString'])}"
        for o in latest.get("output", [])
        if "valueString" in o
    ]
    return lines


def summary(bundle: Mapping[str, Any], referral_ids: Sequence[str]) -> str:
    """The export in words: per referral, what each service holds, then the access record."""
    resources = [e["resource"] for e in bundle.get("entry", [])]
    by_referral: dict[str | None, list[Mapping[str, Any]]] = defaultdict(list)
    for resource in resources:
        by_referral[_referral_of(resource)].append(resource)
    lines = [
        "# Subject access export",
        "",
        f"Made {bundle['timestamp']} by the referral hub. {len(referral_ids)} referral(s) about "
        f"this person; {len(resources)} records in the FHIR Bundle `{bundle['id']}` that comes "
        "with this summary (the Bundle is the complete record; this page is a reading aid).",
        "",
    ]
    for referral_id in referral_ids:
        mine = by_referral.get(referral_id, [])
        requests = [r for r in mine if r["resourceType"] == "ServiceRequest" and "basedOn" not in r]
        onward = [r for r in mine if r["resourceType"] == "ServiceRequest" and "basedOn" in r]
        first = requests[0] if requests else {}
        requester = (first.get("requester") or {}).get("display") or (
            (first.get("requester") or {}).get("identifier") or {}
        ).get("value", "-")
        lines += [
            f"## Referral `{referral_id}`",
            "",
            f"- Referred {first.get('authoredOn', '-')} by {_text(requester)}; kept as received "
            f"by {', '.join(sorted({_held_by(r) for r in requests})) or 'no service'}",
            *_person_lines(mine),
            *_task_lines([r for r in mine if r["resourceType"] == "Task" and not r.get("partOf")]),
        ]
        plans = [r for r in mine if r["resourceType"] == "CarePlan"]
        if plans:
            lines.append(
                f"- Care and support plan: {len(plans)} version(s); what matters: "
                f"{_text(plans[-1].get('description', '-'))}"
            )
        for request in onward:
            performer = (request.get("performer") or [{}])[0].get("display", "-")
            task = next(
                (
                    t
                    for t in mine
                    if t["resourceType"] == "Task"
                    and (t.get("focus") or {}).get("reference", "").endswith(str(request["id"]))
                ),
                {},
            )
            lines.append(
                f"- Referred on to {_text(performer)} (`{request['id']}`): "
                f"{task.get('status', 'sent')}"
            )
        sent = Counter(
            (next((c["text"] for c in r.get("medium", [])), "-"), r["status"])
            for r in mine
            if r["resourceType"] == "Communication"
        )
        for (channel, status), count in sorted(sent.items()):
            lines.append(f"- Notifications ({channel}): {count} {status}")
        lines.append("")
    audits = sorted(
        (r for r in resources if r["resourceType"] == "AuditEvent"), key=lambda r: r["recorded"]
    )
    lines += [
        "## Who read or changed these records",
        "",
        "| when | who | role | did | service | what |",
        "|---|---|---|---|---|---|",
    ]
    for event in audits:
        agent = event["agent"][0]
        lines.append(
            f"| {event['recorded']} | {_text(agent['who']['identifier']['value'])} | "
            f"{agent['role'][0]['text']} | {event['action']} | {event['source']['site']} | "
            f"{_text(event.get('outcomeDesc', ''))} |"
        )
    lines += [
        "",
        "Actions: C created, R read, U changed, E exported. This export is on record too: each "
        "service recorded it before answering, and it will appear in the next export.",
        "",
    ]
    return "\n".join(lines)
