"""A referrer's pages: their organisation's referrals, refusals, and resubmitting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_web.domain.tasks import TaskView, task_view
from hub_web.domain.timeline import Milestone, timeline
from hub_web.service_layer.commands import ResubmitReferral
from hub_web.service_layer.ports import Caller, HubApiPort

CONTENT_TYPES = {"housing": "text/csv"}  # every other format is JSON


@dataclass(frozen=True)
class Referrals:
    """The organisation's referrals, newest first, and those refused at intake."""

    accepted: list[tuple[TaskView, list[Milestone]]]
    rejected: list[TaskView]
    truncated: bool


@dataclass(frozen=True)
class SubmissionResult:
    """What intake said of one resubmitted referral."""

    status: str
    referral_id: str | None
    referrer_reference: str | None
    problems: tuple[tuple[str, str], ...]  # (field, what is wrong)


MAX_TASKS = 500


def _newest_first(task: TaskView) -> datetime:
    return task.last_modified or task.authored_on or datetime.min.replace(tzinfo=UTC)


def _problems(outcome: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (
            ", ".join(issue.get("expression") or []),
            str(issue.get("diagnostics") or issue.get("code")),
        )
        for issue in outcome.get("issue") or []
        if issue.get("severity") in ("fatal", "error")
    )


class ReferrerDesk:
    """The referrer's use cases: the notifier to read, intake to send again."""

    def __init__(self, api: HubApiPort) -> None:
        self._api = api

    async def referrals(self, caller: Caller) -> Referrals:
        tasks = [
            task_view(t)
            for t in await self._api.notifier_tasks(
                caller.token, requester=caller.principal.organisation, count=MAX_TASKS
            )
        ]
        tasks.sort(key=_newest_first, reverse=True)
        return Referrals(
            accepted=[(t, timeline(t)) for t in tasks if not t.is_rejection],
            rejected=[t for t in tasks if t.is_rejection],
            truncated=len(tasks) >= MAX_TASKS,
        )

    async def referral(self, caller: Caller, task_id: str) -> tuple[TaskView, list[Milestone]]:
        """The referral and its timeline, each milestone timed from the Task's history."""
        task = task_view(await self._api.notifier_task(caller.token, task_id))
        if task.is_rejection:
            return task, []
        history = await self._api.notifier_task_history(caller.token, task_id)
        return task, timeline(task, [task_view(version) for version in history])

    async def resubmit(self, caller: Caller, command: ResubmitReferral) -> list[SubmissionResult]:
        answer = await self._api.submit(
            caller.token,
            command.source,
            command.body,
            CONTENT_TYPES.get(command.source, "application/json"),
        )
        return [
            SubmissionResult(
                status=str(result.get("status")),
                referral_id=result.get("referral_id"),
                referrer_reference=result.get("referrer_reference"),
                problems=_problems(result.get("outcome") or {}),
            )
            for result in answer.get("results") or []
        ]
