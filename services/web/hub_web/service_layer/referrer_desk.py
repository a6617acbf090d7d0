"""A referrer's pages: their organisation's referrals, refusals, and resubmitting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.agency_formats import agency_format
from hub_common.jsonio import dumps
from hub_web.adapters.hub_api import ApiRefused
from hub_web.domain.correction import CorrectionForm, as_text, corrected, correction_form, formable
from hub_web.domain.tasks import RejectionIssue, TaskView, task_view
from hub_web.domain.timeline import Milestone, timeline
from hub_web.service_layer.commands import ResubmitReferral
from hub_web.service_layer.ports import Caller, HubApiPort


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


@dataclass(frozen=True)
class Correction:
    """A refused referral to correct: the refusal, and what was sent as a form (a JSON
    document) or as text to edit (anything else, or nothing when it is no longer kept)."""

    rejection: TaskView
    source: str | None
    form: CorrectionForm | None
    text: str


MAX_TASKS = 500


def _newest_first(task: TaskView) -> datetime:
    return task.last_modified or task.authored_on or datetime.min.replace(tzinfo=UTC)


def _issues(outcome: dict[str, Any]) -> tuple[RejectionIssue, ...]:
    """An intake answer's errors as a rejection Task names them: code and fields."""
    return tuple(
        RejectionIssue(str(issue.get("code")), ", ".join(issue.get("expression") or []))
        for issue in outcome.get("issue") or []
        if issue.get("severity") in ("fatal", "error")
    )


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

    async def correction(
        self, caller: Caller, rejection_id: str, entered: dict[str, str] | None = None
    ) -> Correction:
        """The refused referral as a form, its refused fields marked; `entered` when it is
        shown again with what the referrer typed."""
        rejection, _ = await self.referral(caller, rejection_id)
        message = await self._refused_message(caller, rejection_id)
        return _correction(rejection, message, rejection.rejection_issues, entered)

    async def resubmit_corrected(
        self, caller: Caller, rejection_id: str, entered: dict[str, str]
    ) -> tuple[list[SubmissionResult], Correction]:
        """Send the refused document with the form's corrections, as its own format; the
        results, and the form again (marked with intake's new reasons if refused again)."""
        rejection, _ = await self.referral(caller, rejection_id)
        message = await self._refused_message(caller, rejection_id)
        shown = _correction(rejection, message, rejection.rejection_issues, entered)
        if shown.form is None or message is None:
            raise LookupError("this refused referral cannot be corrected as a form")
        document = corrected(shown.form, message["original"], entered)
        answer = await self._api.submit(
            caller.token,
            shown.form.source,
            dumps(document),
            _media_type(shown.form.source),
        )
        refusals = [r for r in answer.get("results") or [] if r.get("status") == "rejected"]
        if refusals:  # the form again, marked with what intake says now
            new_issues = _issues(refusals[0].get("outcome") or {})
            shown = _correction(rejection, message, new_issues, entered)
        return _results(answer), shown

    async def _refused_message(self, caller: Caller, rejection_id: str) -> dict[str, Any] | None:
        try:
            return await self._api.refused_message(caller.token, rejection_id)
        except ApiRefused as refused:
            if refused.status != 404:
                raise
            return None  # deleted by retention (or never recorded): nothing to fill in

    async def resubmit(self, caller: Caller, command: ResubmitReferral) -> list[SubmissionResult]:
        answer = await self._api.submit(
            caller.token,
            command.source,
            command.body,
            _media_type(command.source),
        )
        return _results(answer)


def _media_type(source: str) -> str:
    """What the format's agencies send (the registry's media type); JSON for a source the hub
    does not know, so intake, not the web app, answers that it does not know it."""
    try:
        return agency_format(source).media_type
    except ValueError:
        return "application/json"


def _correction(
    rejection: TaskView,
    message: dict[str, Any] | None,
    issues: tuple[RejectionIssue, ...],
    entered: dict[str, str] | None,
) -> Correction:
    if message is None:
        return Correction(rejection, rejection.source, None, "")
    source, original = str(message.get("source")), message.get("original")
    if not formable(original):
        return Correction(rejection, source, None, as_text(original))
    return Correction(rejection, source, correction_form(source, original, issues, entered), "")


def _results(answer: dict[str, Any]) -> list[SubmissionResult]:
    return [
        SubmissionResult(
            status=str(result.get("status")),
            referral_id=result.get("referral_id"),
            referrer_reference=result.get("referrer_reference"),
            problems=_problems(result.get("outcome") or {}),
        )
        for result in answer.get("results") or []
    ]
