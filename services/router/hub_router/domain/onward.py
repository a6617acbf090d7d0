"""Onward referrals: a link worker sends the person on to a community organisation. Pure.

An onward referral is a Task owned by the organisation, `partOf` the link worker's Task, that
moves through the same status machine as every hub Task (`task_status.check_transition`):

    requested -> accepted | rejected
    accepted -> in-progress | completed | failed
    in-progress -> completed | failed

with its own steps (`OnwardStep`): the organisation accepts or declines (with a reason), then
records the person `attending`, `attended` (completed) or `did-not-attend` (failed). One left
unanswered is nudged at half its deadline and declined by the hub at the deadline
(`no-response`), which goes back to the link worker as an alert.

Closing the loop upward: an accepted onward referral is support offered of kind `referred` on
the link worker's Task, and `attended` once the person went; the link worker's Task then says
the person is connected to services (`with_onward_support`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_router.domain.offers import ReferralTask
from hub_router.domain.sla import add_working_days, end_of, london_day
from hub_router.domain.task_status import (
    BusinessStatus,
    TaskStatus,
    TransitionRefused,
    check_transition,
)

S = TaskStatus


class OnwardStep(StrEnum):
    """The onward Task's businessStatus (codes of the hub's task-business-status CodeSystem)."""

    AWAITING_RESPONSE = "awaiting-response"
    ACCEPTED_BY_SERVICE = "accepted-by-service"
    ATTENDING = "attending"
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did-not-attend"
    DECLINED_BY_SERVICE = "declined-by-service"
    NO_RESPONSE = "no-response"


Step = OnwardStep
MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.REQUESTED: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.COMPLETED, S.FAILED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
}
"""The onward Task's moves: the hub's status machine without on-hold and cancelled."""

DEFAULT_ANSWER_WORKING_DAYS = 10


@dataclass(frozen=True)
class AnswerDeadline:
    """When an onward referral must be answered: N working days (England & Wales, London's
    calendar) after the day it was sent, by the end of the day; nudged at half of them."""

    working_days: int = DEFAULT_ANSWER_WORKING_DAYS

    def due(self, sent_at: datetime) -> datetime:
        return end_of(add_working_days(london_day(sent_at), self.working_days))

    def nudge(self, sent_at: datetime) -> datetime:
        return end_of(add_working_days(london_day(sent_at), max(1, self.working_days // 2)))


@dataclass(frozen=True)
class OnwardReferral:
    """One onward referral as the router holds it (the person's details live beside it)."""

    onward_id: str
    referral_id: str  # the link worker's referral, whose Task this one is part of
    service_id: str
    service_name: str
    organisation_id: str
    organisation_name: str
    organisation_email: str | None
    need: NeedCategory
    sent_by: str  # the link worker
    sent_at: datetime
    due_at: datetime
    nudge_at: datetime
    status: TaskStatus = S.REQUESTED
    step: OnwardStep = Step.AWAITING_RESPONSE
    version: int = 1
    reason: str | None = None
    nudged_at: datetime | None = None
    answered_at: datetime | None = None  # when the organisation accepted or declined

    @property
    def next_check_at(self) -> datetime | None:
        """When the sweep must look at it next: its nudge, then its deadline; None once
        answered."""
        if self.status is not S.REQUESTED:
            return None
        return (
            self.nudge_at
            if self.nudged_at is None and self.nudge_at < self.due_at
            else (self.due_at)
        )

    def _move(self, status: TaskStatus, step: OnwardStep, reason: str | None) -> OnwardReferral:
        if status not in MOVES[self.status]:
            allowed = ", ".join(sorted(MOVES[self.status])) or "none: it is final"
            raise TransitionRefused(
                f"an onward referral cannot move from {self.status} to {status}; allowed: {allowed}"
            )
        check_transition(self.status, status, reason)
        return replace(self, status=status, step=step, reason=reason, version=self.version + 1)

    def accept(self) -> OnwardReferral:
        return self._move(S.ACCEPTED, Step.ACCEPTED_BY_SERVICE, None)

    def decline(self, reason: str) -> OnwardReferral:
        return self._move(S.REJECTED, Step.DECLINED_BY_SERVICE, reason)

    def start(self) -> OnwardReferral:
        return self._move(S.IN_PROGRESS, Step.ATTENDING, None)

    def attended(self) -> OnwardReferral:
        return self._move(S.COMPLETED, Step.ATTENDED, None)

    def did_not_attend(self, reason: str | None) -> OnwardReferral:
        return self._move(S.FAILED, Step.DID_NOT_ATTEND, reason or "The person did not attend.")

    def nudge_due(self, now: datetime) -> bool:
        return (
            self.status is S.REQUESTED
            and self.nudged_at is None
            and self.nudge_at <= now < (self.due_at)
        )

    def nudged(self, now: datetime) -> OnwardReferral:
        """Reminded once; the Task itself does not change (no new version)."""
        return replace(self, nudged_at=now)

    def expired(self, now: datetime) -> bool:
        return self.status is S.REQUESTED and now >= self.due_at

    def expire(self, now: datetime) -> OnwardReferral:
        """Declined by the hub for the organisation: nobody answered by the deadline."""
        if not self.expired(now):
            raise TransitionRefused("an onward referral expires only unanswered at its deadline")
        day = london_day(self.due_at) - timedelta(days=1)  # due "by the end of" this day
        return self._move(
            S.REJECTED,
            Step.NO_RESPONSE,
            f"No answer from the service by the deadline ({day.isoformat()}).",
        )

    @property
    def support_kind(self) -> SupportKind | None:
        """What this onward referral is as support offered on the link worker's Task: referred
        once the organisation took the person on (whether or not they went), attended once
        they went; nothing while unanswered or after a decline."""
        if self.step is Step.ATTENDED:
            return SupportKind.ATTENDED
        if self.step in (Step.ACCEPTED_BY_SERVICE, Step.ATTENDING, Step.DID_NOT_ATTEND):
            return SupportKind.REFERRED
        return None


CONNECTED_KINDS = frozenset({SupportKind.REFERRED, SupportKind.ATTENDED})
OPEN_PARENT = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
"""A link worker's Task an onward referral may start from, and that its answers update."""


def connected_services(outcomes: Outcomes | None) -> int:
    """How many services the person is connected to: support referred or attended, counted
    once per service."""
    if outcomes is None:
        return 0
    return len(
        {
            support.service_id or support.service
            for support in outcomes.support
            if support.kind in CONNECTED_KINDS
        }
    )


def with_onward_support(task: ReferralTask, onward: OnwardReferral) -> ReferralTask | None:
    """The link worker's Task with `onward`'s support offered in place of any earlier entry for
    the same service, connected to services once there is any; None when nothing changes (the
    Task is closed, or the entry is the same). A closed Task is never reopened: its message
    back has gone."""
    if task.status not in OPEN_PARENT:
        return None
    outcomes = task.outputs or Outcomes()
    kind = onward.support_kind
    others = tuple(s for s in outcomes.support if s.service_id != onward.service_id)
    ours = (
        (SupportOffered(onward.need, kind, onward.service_name, onward.service_id),)
        if kind is not None
        else ()
    )
    support = (*others, *ours)
    if support == outcomes.support:
        return None
    updated = replace(outcomes, support=support)
    status, step = task.status, task.business_status
    if connected_services(updated):
        status = S.IN_PROGRESS if status is S.ACCEPTED else status
        step = BusinessStatus.CONNECTED_TO_SERVICES
    return replace(
        task,
        status=status,
        business_status=step,
        outputs=updated,
        status_reason=task.status_reason if status is S.ON_HOLD else None,
        version=task.version + 1,
    )
