"""The onward referral's status machine, its deadlines, and what it adds to the link worker's
Task (support offered, connected to N services)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.jsonio import dumps
from hub_common.messaging.topics import Topics
from hub_notifier.adapters.task_facts import task_facts
from hub_notifier.service_layer.notifying import Announcer, Change
from hub_router.adapters.fhir_task import business_status_text, task_snapshot
from hub_router.domain.offers import ReferralTask
from hub_router.domain.onward import (
    MOVES,
    AnswerDeadline,
    OnwardReferral,
    OnwardStep,
    connected_services,
    with_onward_support,
)
from hub_router.domain.task_status import ALLOWED, BusinessStatus, TaskStatus, TransitionRefused

S, Step = TaskStatus, OnwardStep
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def onward(**changes: object) -> OnwardReferral:
    deadline = AnswerDeadline(10)
    base = OnwardReferral(
        onward_id="onward-1",
        referral_id="r1",
        service_id="svc-1",
        service_name="Thornton Heath lunch club",
        organisation_id="org-1",
        organisation_name="Thornton Heath Community Trust",
        organisation_email="hello@example.org",
        need=NeedCategory.LONELINESS_ISOLATION,
        sent_by="lw-1",
        sent_at=MONDAY,
        due_at=deadline.due(MONDAY),
        nudge_at=deadline.nudge(MONDAY),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_onward_move_is_one_the_hub_status_machine_allows() -> None:
    for status, targets in MOVES.items():
        assert targets <= ALLOWED[status], status


def test_accept_then_attend() -> None:
    accepted = onward().accept()
    assert (accepted.status, accepted.step, accepted.version) == (S.ACCEPTED,
                                                                  Step.ACCEPTED_BY_SERVICE, 2)  # fmt: skip
    started = accepted.start()
    assert (started.status, started.step) == (S.IN_PROGRESS, Step.ATTENDING)
    done = started.attended()
    assert (done.status, done.step, done.version) == (S.COMPLETED, Step.ATTENDED, 4)
    with pytest.raises(TransitionRefused, match="final"):
        done.did_not_attend("late")


def test_attended_straight_from_accepted_and_did_not_attend_keeps_a_reason() -> None:
    assert onward().accept().attended().step is Step.ATTENDED
    missed = onward().accept().did_not_attend(None)
    assert (missed.status, missed.step) == (S.FAILED, Step.DID_NOT_ATTEND)
    assert missed.reason


def test_decline_needs_a_reason_and_ends_it() -> None:
    with pytest.raises(TransitionRefused, match="reason"):
        onward().decline("  ")
    declined = onward().decline("No places until March")
    assert (declined.status, declined.step, declined.reason) == (
        S.REJECTED,
        Step.DECLINED_BY_SERVICE,
        "No places until March",
    )
    with pytest.raises(TransitionRefused):
        declined.accept()


def test_nothing_but_an_answer_moves_a_requested_one() -> None:
    for move in (lambda o: o.start(), lambda o: o.attended(), lambda o: o.did_not_attend("x")):
        with pytest.raises(TransitionRefused, match="requested"):
            move(onward())
    with pytest.raises(TransitionRefused):
        onward().accept().accept()


def test_ten_working_days_skip_weekends_and_bank_holidays_and_nudge_at_half() -> None:
    deadline = AnswerDeadline(10)
    # Mon 23 Nov + 10 working days = Mon 7 Dec, due by its end (London midnight, GMT).
    assert deadline.due(MONDAY) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    # Half: 5 working days, Mon 30 Nov.
    assert deadline.nudge(MONDAY) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    # Over Christmas: Fri 18 Dec + 5 skips 25, 26 (28 substitute) Dec and weekends.
    friday = datetime(2026, 12, 18, 12, 0, tzinfo=UTC)
    assert AnswerDeadline(5).due(friday) == datetime(2026, 12, 30, 0, 0, tzinfo=UTC)


def test_the_sweep_nudges_once_at_half_then_expires_at_the_deadline() -> None:
    waiting = onward()
    assert waiting.next_check_at == waiting.nudge_at
    assert not waiting.nudge_due(waiting.nudge_at - timedelta(seconds=1))
    assert waiting.nudge_due(waiting.nudge_at)
    nudged = waiting.nudged(waiting.nudge_at)
    assert not nudged.nudge_due(waiting.nudge_at)
    assert nudged.next_check_at == waiting.due_at
    assert nudged.version == waiting.version  # a reminder does not change the Task
    assert not nudged.expired(waiting.due_at - timedelta(seconds=1))
    expired = nudged.expire(waiting.due_at)
    assert (expired.status, expired.step) == (S.REJECTED, Step.NO_RESPONSE)
    assert "2026-12-07" in (expired.reason or "")
    assert expired.next_check_at is None
    with pytest.raises(TransitionRefused):
        onward().accept().expire(waiting.due_at)


def test_an_answered_one_is_never_checked_again() -> None:
    assert onward().accept().next_check_at is None


def test_support_offered_follows_the_organisation_s_answer() -> None:
    assert onward().support_kind is None
    assert onward().decline("full").support_kind is None
    assert onward().accept().support_kind is SupportKind.REFERRED
    assert onward().accept().did_not_attend(None).support_kind is SupportKind.REFERRED
    assert onward().accept().attended().support_kind is SupportKind.ATTENDED


def worker_task(status: TaskStatus = S.ACCEPTED, outcomes: Outcomes | None = None) -> ReferralTask:
    return ReferralTask(
        "r1", status, BusinessStatus.ALLOCATED, owner="lw-1", version=3, outputs=outcomes
    )


def test_an_accepted_onward_referral_connects_the_person() -> None:
    parent = with_onward_support(worker_task(), onward().accept())
    assert parent is not None
    assert (parent.status, parent.business_status, parent.version) == (
        S.IN_PROGRESS,
        BusinessStatus.CONNECTED_TO_SERVICES,
        4,
    )
    assert parent.outputs is not None
    [support] = parent.outputs.support
    assert (support.kind, support.service_id, support.need) == (
        SupportKind.REFERRED,
        "svc-1",
        NeedCategory.LONELINESS_ISOLATION,
    )
    attended = with_onward_support(parent, onward().accept().attended())
    assert attended is not None and attended.outputs is not None
    assert [s.kind for s in attended.outputs.support] == [SupportKind.ATTENDED]
    # The same answer again changes nothing.
    assert with_onward_support(attended, onward().accept().attended()) is None


def test_other_support_is_kept_and_counted_once_per_service() -> None:
    earlier = Outcomes(
        "summary",
        support=(
            SupportOffered(NeedCategory.HOUSING, SupportKind.SIGNPOSTED, "Council housing line"),
            SupportOffered(NeedCategory.MONEY_DEBT_BENEFITS, SupportKind.ATTENDED, "CAB", "cab"),
        ),
    )
    parent = with_onward_support(worker_task(S.ON_HOLD, earlier), onward().accept())
    assert parent is not None and parent.outputs is not None
    assert parent.status is S.ON_HOLD  # waiting on the person still; the step says connected
    assert parent.outputs.summary == "summary"
    assert len(parent.outputs.support) == 3
    assert connected_services(parent.outputs) == 2  # signposting is not a connection
    assert (
        business_status_text(BusinessStatus.CONNECTED_TO_SERVICES, parent.outputs)
        == "connected to 2 services"
    )
    assert business_status_text(BusinessStatus.ALLOCATED, parent.outputs) == "allocated"


def test_a_declined_or_unanswered_one_adds_nothing_and_a_closed_task_is_left_alone() -> None:
    assert with_onward_support(worker_task(), onward().decline("full")) is None
    assert with_onward_support(worker_task(), onward().expire(onward().due_at)) is None
    assert with_onward_support(worker_task(S.COMPLETED), onward().accept()) is None


def test_the_referrer_s_email_says_how_many_services_and_not_which() -> None:
    parent = with_onward_support(worker_task(), onward().accept())
    assert parent is not None
    snapshot = task_snapshot(
        referral_id="r1",
        episode_id="e1",
        version=parent.version,
        status=parent.status,
        business_status=parent.business_status,
        owner="lw-1",
        requester={"identifier": {"system": "https://example.org/agency", "value": "a1"}},
        referrer_identifier={},
        authored_on=None,
        last_modified=MONDAY,
        outcomes=parent.outputs,
    )
    facts = task_facts(snapshot)
    assert (facts.business_status, facts.business_status_text) == (
        "connected-to-services",
        "connected to 1 service",
    )
    announcer = Announcer(Topics(), "https://hub.example.org", "hub@example.org", lambda: MONDAY)
    change = Change(
        referral_id="r1",
        status=facts.status,
        business_status=facts.business_status,
        requester_org=facts.requester_org,
        source="community",
        referrer_reference=None,
        message_back=None,
        email_to="referrer@example.org",
        business_status_text=facts.business_status_text,
    )
    row = announcer._email(change)
    assert row is not None
    body = row["body"] if isinstance(row["body"], bytes) else dumps(row["body"])
    assert b"connected to 1 service" in body
    assert b"lunch club" not in body.lower() and b"org-1" not in body
