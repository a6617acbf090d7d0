"""A stand-in for the hub's APIs, so the web app's pages can be tested without the hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, REFERRAL_ID_SYSTEM, referrer_reference_system
from hub_common.fhir.task_outputs import Outcomes, task_output_parts
from hub_common.security.auth import Principal, issue_token, verify_token
from hub_web.adapters.hub_api import ApiRefused

SECRET = "unit-test-secret-for-the-web-app-pages-only"
CVA = f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"


def task(
    referral_id: str,
    *,
    status: str = "requested",
    step: str = "offered",
    owner: str | None = "lw-1",
    version: int = 1,
    reference: str = "CVA-1",
    source: str = "community",
    authored_on: str = "2026-11-20T10:00:00+00:00",
    last_modified: str = "2026-11-20T10:05:00+00:00",
    outcomes: Outcomes | None = None,
    reason: str | None = None,
    deadline: str | None = None,
    requester: str | None = None,
    inputs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Task snapshot shaped like the router's (its outputs from the shared contract)."""
    subject = {"type": "Patient", "identifier": {"system": "x", "value": f"ep-{referral_id}"}}
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": referral_id,
        "meta": {"versionId": str(version), "lastUpdated": last_modified},
        "identifier": [
            {"system": REFERRAL_ID_SYSTEM, "value": referral_id},
            {"system": referrer_reference_system(source), "value": reference},
        ],
        "status": status,
        "businessStatus": {"coding": [{"code": step}], "text": step},
        "authoredOn": authored_on,
        "lastModified": last_modified,
        "requester": {"identifier": {"system": AGENCY_ID_SYSTEM, "value": "x"}},
    }
    if owner:
        resource["owner"] = {"reference": f"PractitionerRole/{owner}"}
    if deadline:
        resource["restriction"] = {"period": {"end": deadline}}
    if requester:
        resource["requester"]["display"] = requester
    if inputs:
        resource["input"] = inputs
    if reason:
        resource["statusReason"] = {"text": reason}
    contained, output = task_output_parts(outcomes or Outcomes(), subject)
    if contained:
        resource["contained"] = contained
    if output:
        resource["output"] = output
    return resource


@dataclass
class FakeHubApi:
    """Holds Tasks in memory; records every change asked for; refuses what the test says."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting_entries: list[dict[str, Any]] = field(default_factory=list)
    alert_entries: list[dict[str, Any]] = field(default_factory=list)
    worker_entries: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    refuse_next: ApiRefused | None = None
    intake_answer: dict[str, Any] = field(default_factory=lambda: {"results": []})
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # ServiceRequests by id
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # CarePlans by referral id
    person_reads: list[str] = field(default_factory=list)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # earlier versions
    same_people: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by referral id
    review_entries: list[dict[str, Any]] = field(default_factory=list)
    onward: dict[str, dict[str, Any]] = field(default_factory=dict)  # onward Tasks by id
    onward_requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # by onward id
    onward_searches: list[tuple[str, str | None]] = field(default_factory=list)  # (who, part of)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)  # refused messages by id
    directory_answer: dict[str, Any] = field(
        default_factory=lambda: {"resourceType": "Bundle", "type": "searchset", "total": 0}
    )

    def _refusal(self) -> None:
        if self.refuse_next is not None:
            refusal, self.refuse_next = self.refuse_next, None
            raise refusal

    async def router_tasks(self, token: str, **filters: Any) -> list[dict[str, Any]]:
        principal = verify_token(SECRET, token)
        owner = filters.get("owner")
        return (
            [
                t
                for t in self.tasks.values()
                if owner is None
                or t.get("owner", {}).get("reference") == f"PractitionerRole/{owner}"
            ]
            if principal.role in ("link_worker", "coordinator")
            else []
        )

    async def router_task(self, token: str, task_id: str) -> dict[str, Any]:
        if task_id in self.onward and self._onward_visible(token, self.onward[task_id]):
            return self.onward[task_id]
        if task_id not in self.tasks or verify_token(SECRET, token).role == "organisation":
            raise ApiRefused(404, "no such Task")
        return self.tasks[task_id]

    async def find_services(self, token: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        self.calls.append(("find-services", "", params))
        return self.directory_answer

    async def accept(self, token: str, task_id: str) -> None:
        self._refusal()
        self.calls.append(("accept", task_id, None))

    async def decline(self, token: str, task_id: str, reason: str) -> None:
        self._refusal()
        self.calls.append(("decline", task_id, reason))

    async def update_status(self, token: str, task_id: str, body: dict[str, Any]) -> None:
        self._refusal()
        self.calls.append(("update-status", task_id, body))

    def _onward_visible(self, token: str, onward: dict[str, Any]) -> bool:
        """Like the router: an organisation sees only what was sent to it."""
        principal = verify_token(SECRET, token)
        if principal.role != "organisation":
            return principal.role in ("link_worker", "coordinator")
        owner = onward.get("owner", {}).get("identifier", {}).get("value")
        return bool(owner == principal.organisation)

    async def onward_tasks(self, token: str, *, part_of: str | None = None) -> list[dict[str, Any]]:
        self.onward_searches.append((verify_token(SECRET, token).subject, part_of))
        return [
            t
            for t in self.onward.values()
            if self._onward_visible(token, t)
            and (part_of is None or t["partOf"][0]["reference"] == f"Task/{part_of}")
        ]

    async def onward_request(self, token: str, onward_id: str) -> dict[str, Any]:
        onward = self.onward.get(onward_id)
        if onward is None or not self._onward_visible(token, onward):
            raise ApiRefused(404, "no such ServiceRequest")
        self.person_reads.append(onward_id)
        return self.onward_requests[onward_id]

    async def refer_onward(
        self, token: str, referral_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self._refusal()
        self.calls.append(("refer-onward", referral_id, body))
        return {"resourceType": "Task", "id": "onward-new"}

    async def attendance(
        self, token: str, onward_id: str, attendance: str, reason: str | None
    ) -> None:
        self._refusal()
        self.calls.append(("attendance", onward_id, (attendance, reason)))

    async def waiting(self, token: str) -> list[dict[str, Any]]:
        return self.waiting_entries

    async def person(self, token: str, task_id: str) -> dict[str, Any] | None:
        self.person_reads.append(task_id)
        return self.people.get(task_id)

    async def care_plan(self, token: str, task_id: str) -> dict[str, Any] | None:
        return self.plans.get(task_id)

    async def record_care_plan(
        self, token: str, task_id: str, body: dict[str, Any], version: int | None
    ) -> None:
        self._refusal()
        self.calls.append(("care-plan", task_id, (body, version)))

    async def alerts(self, token: str) -> list[dict[str, Any]]:
        return self.alert_entries

    async def workers(self, token: str) -> list[dict[str, Any]]:
        return self.worker_entries

    async def same_person(self, token: str, referral_id: str) -> list[dict[str, Any]] | None:
        return self.same_people.get(referral_id)

    async def person_reviews(self, token: str) -> list[dict[str, Any]]:
        return self.review_entries

    async def decide_person_review(self, token: str, review_id: str, decision: str) -> None:
        self._refusal()
        self.calls.append(("person-review", review_id, decision))

    async def assign(self, token: str, task_id: str, worker: str) -> None:
        self._refusal()
        self.calls.append(("assign", task_id, worker))

    async def notifier_tasks(self, token: str, **filters: Any) -> list[dict[str, Any]]:
        return list(self.tasks.values())

    async def notifier_task(self, token: str, task_id: str) -> dict[str, Any]:
        return await self.router_task(token, task_id)

    async def notifier_task_history(self, token: str, task_id: str) -> list[dict[str, Any]]:
        return [*self.history.get(task_id, ()), await self.router_task(token, task_id)][::-1]

    async def refused_message(self, token: str, rejection_id: str) -> dict[str, Any]:
        if rejection_id not in self.refused:
            raise ApiRefused(404, "no such Task")
        self.calls.append(("refused-message", rejection_id, None))
        return self.refused[rejection_id]

    async def referrals_csv(self, token: str) -> AsyncIterator[bytes]:
        self._refusal()
        self.calls.append(("referrals-csv", verify_token(SECRET, token).subject, None))

        async def chunks() -> AsyncIterator[bytes]:
            yield b"referral_id,patient_name\r\n"
            yield b"r1,'=HYPERLINK(1)\r\n"

        return chunks()

    async def submit(
        self, token: str, source: str, body: bytes, content_type: str
    ) -> dict[str, Any]:
        self._refusal()
        self.calls.append(("submit", source, body))
        return self.intake_answer

    async def ready(self) -> dict[str, bool]:
        return {"router": True, "notifier": True}


def token_for(role: str, subject: str, **claims: Any) -> str:
    return issue_token(SECRET, Principal(role, subject, **claims))  # type: ignore[arg-type]
