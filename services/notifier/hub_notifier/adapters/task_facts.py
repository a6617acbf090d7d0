"""What the notifier needs from a Task snapshot: ids, codes and times, never content."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.task_outputs import Outcomes, UnreadableOutputs, read_outputs
from hub_notifier.adapters.requester import referrer_reference, requester_key, source_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskFacts:
    """The parts of one Task version that decide who is told what."""

    referral_id: str
    version: int
    status: str
    business_status: str
    requester_org: str
    source: str
    referrer_reference: str | None
    last_updated: datetime
    # The step in words when the Task says more than its code ("connected to 2 services").
    business_status_text: str | None = None


def _instant(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def task_facts(task: dict[str, Any]) -> TaskFacts:
    """Raises ValueError naming the element when the snapshot cannot be used."""
    if task.get("resourceType") != "Task":
        raise ValueError("resourceType: expected Task")
    if not task.get("id"):
        raise ValueError("Task.id is required")
    try:
        version = int(task.get("meta", {}).get("versionId", 0))
    except (TypeError, ValueError):
        raise ValueError("Task.meta.versionId must be a positive integer") from None
    if version < 1:
        raise ValueError("Task.meta.versionId must be a positive integer")
    if not task.get("status"):
        raise ValueError("Task.status is required")
    business = (task.get("businessStatus", {}).get("coding") or [{}])[0].get("code", "")
    words = task.get("businessStatus", {}).get("text")
    return TaskFacts(
        referral_id=str(task["id"]),
        version=version,
        status=str(task["status"]),
        business_status=str(business or ""),
        requester_org=requester_key(task.get("requester", {}).get("identifier")),
        source=source_of(task),
        referrer_reference=referrer_reference(task),
        last_updated=_instant(task.get("meta", {}).get("lastUpdated") or task.get("lastModified")),
        business_status_text=str(words) if words and words != business else None,
    )


def outcomes_of(task: dict[str, Any]) -> Outcomes | None:
    """The Task's coded outcomes, for the message back; None (and a warning naming only the
    referral) when they cannot be read: the change is still announced, without them."""
    try:
        return read_outputs(task)
    except UnreadableOutputs as error:
        log.warning("referral %s: outcomes unreadable (%s)", task.get("id"), type(error).__name__)
        return None
