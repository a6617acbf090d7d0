"""A referral refused at intake, shown to its referrer as a Task with status `rejected`.

Referrers then follow refusals exactly like every other change: the same notification (focus
`Task/<rejection id>`), the same read API. The reasons are each issue's code and the path of the
field at fault; the diagnostics text stays behind, because it can quote what was sent.
"""

from __future__ import annotations

from typing import Any

from hub_common.fhir import systems as sys

ISSUE_TYPE_SYSTEM = "http://hl7.org/fhir/issue-type"


def rejection_task(event: dict[str, Any], requester_org: str) -> dict[str, Any]:
    """Raises ValueError when the event lacks what a Task needs."""
    rejection_id = event.get("rejectionId")
    source = event.get("source")
    if not rejection_id or not source:
        raise ValueError("a rejected event needs rejectionId and source")
    received = str(event.get("receivedAt") or "")
    system, _, value = requester_org.partition("|")
    issues = [
        issue
        for issue in (event.get("outcome") or {}).get("issue", [])
        if issue.get("severity") in ("fatal", "error")
    ]
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(rejection_id),
        "meta": {"versionId": "1", **({"lastUpdated": received} if received else {})},
        "identifier": [{"system": f"{sys.HUB_BASE}/Id/rejection", "value": str(rejection_id)}],
        "status": "rejected",
        "statusReason": {"text": f"refused at intake: {len(issues)} problem(s), see output"},
        "intent": "order",
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]
        },
        "requester": {"type": "Organization", "identifier": {"system": system, "value": value}},
        "output": [
            {
                "type": {"text": "issue"},
                "valueCodeableConcept": {
                    "coding": [{"system": ISSUE_TYPE_SYSTEM, "code": str(issue.get("code"))}],
                    "text": ", ".join(str(path) for path in issue.get("expression", [])),
                },
            }
            for issue in issues
        ],
    }
    if reference := event.get("referrerReference"):
        task["identifier"].append(
            {"system": sys.referrer_reference_system(str(source)), "value": str(reference)}
        )
    if received:
        task["authoredOn"] = received
        task["lastModified"] = received
    return task
