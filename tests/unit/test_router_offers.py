"""The offer lifecycle and the owner's status changes, on the pure domain object."""

from datetime import UTC, date, datetime, timedelta

import pytest

from hub_common.fhir.needs import NeedCategory as N
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_router.domain.access import Viewer
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.domain.offers import (
    OfferNotOpen,
    OfferTimeout,
    ReferralTask,
    TaskNotVisible,
)
from hub_router.domain.task_status import BusinessStatus as B
from hub_router.domain.task_status import TaskStatus as S
from hub_router.domain.task_status import TransitionRefused

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
LATER = NOW + timedelta(days=2)


def offered(worker: str = "a") -> ReferralTask:
    return ReferralTask("r1").offer(worker, LATER)


def accepted(worker: str = "a") -> ReferralTask:
    return offered(worker).accept(worker)


def test_an_offer_then_acceptance_each_raise_the_version_by_one() -> None:
    task = offered("a")
    assert (task.version, task.status, task.business_status, task.owner) == (
        1,
        S.REQUESTED,
        B.OFFERED,
        "a",
    )
    assert task.offered_to == "a" and task.offer_expires_at == LATER
    task = task.accept("a")
    assert (task.version, task.status, task.business_status, task.owner) == (
        2,
        S.ACCEPTED,
        B.ALLOCATED,
        "a",
    )
    assert task.offered_to is None and task.offer_expires_at is None


def test_a_decline_counts_as_failed_and_the_next_offer_is_one_version() -> None:
    back = offered("a").give_back("a", "caseload full of complex cases")
    assert back.owner is None and back.failed_offers == 1 and back.version == 1
    again = back.offer("b", LATER)
    assert (again.version, again.owner, again.offers) == (2, "b", ("a", "b"))


def test_waiting_for_a_coordinator_clears_the_owner() -> None:
    waiting = offered("a").give_back("a", "no").wait_for_coordinator()
    assert (waiting.status, waiting.business_status, waiting.owner, waiting.version) == (
        S.REQUESTED,
        B.AWAITING_ALLOCATION,
        None,
        2,
    )
    assert waiting.needs_coordinator(1) and not waiting.needs_coordinator(2)


def test_only_the_offered_worker_may_answer_and_others_see_nothing() -> None:
    with pytest.raises(TaskNotVisible):
        offered("a").accept("b")
    with pytest.raises(TaskNotVisible):
        offered("a").give_back("b", "not mine")


def test_an_answered_offer_cannot_be_answered_again() -> None:
    with pytest.raises(OfferNotOpen, match="no open offer"):
        accepted("a").accept("a")
    with pytest.raises(OfferNotOpen):
        accepted("a").give_back("a", "changed my mind")


def test_declining_needs_a_reason() -> None:
    with pytest.raises(TransitionRefused, match="needs a reason"):
        offered().give_back("a", "  ")


def test_an_open_offer_cannot_be_offered_twice() -> None:
    with pytest.raises(TransitionRefused):
        offered("a").offer("b", LATER)


def test_a_coordinator_withdraws_an_offer_without_counting_it_as_failed() -> None:
    withdrawn = offered("a").withdraw_offer()
    assert withdrawn.owner is None and withdrawn.failed_offers == 0
    assert withdrawn.offer("c", LATER).offers == ("a", "c")
    with pytest.raises(TransitionRefused, match="only a requested Task"):
        accepted().withdraw_offer()


def test_the_owner_moves_through_the_status_machine_with_steps() -> None:
    task = accepted().change_status("a", None, B.CONTACT_ATTEMPTED, None, None)
    assert (task.status, task.business_status, task.version) == (S.ACCEPTED, B.CONTACT_ATTEMPTED, 3)
    task = task.change_status("a", S.IN_PROGRESS, B.FIRST_CONTACT_MADE, None, None)
    task = task.change_status("a", S.ON_HOLD, None, "in hospital for two weeks", None)
    assert (task.status, task.business_status, task.status_reason) == (
        S.ON_HOLD,
        B.FIRST_CONTACT_MADE,
        "in hospital for two weeks",
    )
    task = task.change_status("a", S.IN_PROGRESS, None, None, None)
    assert task.status_reason is None  # a new status drops the old reason
    outputs = Outcomes(
        "joined two groups",
        support=(
            SupportOffered(N.LONELINESS_ISOLATION, SupportKind.ATTENDED, "Croydon Men's Shed"),
            SupportOffered(N.PHYSICAL_ACTIVITY, SupportKind.SIGNPOSTED, "Norbury walking group"),
        ),
    )
    task = task.change_status("a", S.COMPLETED, B.CONNECTED_TO_SERVICES, None, outputs)
    assert (task.status, task.business_status, task.outputs, task.version) == (
        S.COMPLETED,
        B.CONNECTED_TO_SERVICES,
        outputs,
        7,
    )


@pytest.mark.parametrize(
    ("status", "step", "reason", "outputs", "message"),
    [
        (S.COMPLETED, B.CONNECTED_TO_SERVICES, None, None, "needs outputs"),
        (S.COMPLETED, B.CONNECTED_TO_SERVICES, None, Outcomes("  "), "needs outputs"),
        (S.FAILED, B.UNABLE_TO_CONTACT, None, None, "needs a reason"),
        (S.IN_PROGRESS, B.UNABLE_TO_CONTACT, None, None, "does not go with status in-progress"),
        (
            S.COMPLETED,
            B.UNABLE_TO_CONTACT,
            None,
            Outcomes("x"),
            "does not go with status completed",
        ),
        (S.IN_PROGRESS, B.OFFERED, None, None, "set by the router only"),
        (S.REQUESTED, None, None, None, "cannot move from accepted to requested"),
        (S.REJECTED, None, "no", None, "cannot move from accepted to rejected"),
        (None, B.ALLOCATED, None, None, "already accepted, allocated"),
        (
            S.COMPLETED,
            None,
            None,
            Outcomes("x"),
            "needs a businessStatus; one of: connected-to-services, first-contact-made",
        ),
    ],
)
def test_refused_changes_say_why(
    status: S | None, step: B | None, reason: str | None, outputs: Outcomes | None, message: str
) -> None:
    with pytest.raises(TransitionRefused, match=message):
        accepted().change_status("a", status, step, reason, outputs)


def test_an_offer_is_answered_with_accept_or_decline_not_a_status_change() -> None:
    with pytest.raises(TransitionRefused, match=r"\$accept or \$decline"):
        offered("a").change_status("a", S.ACCEPTED, None, None, None)


def test_only_the_owner_changes_status() -> None:
    with pytest.raises(TaskNotVisible):
        accepted("a").change_status("b", S.IN_PROGRESS, None, None, None)


def test_person_declining_fails_the_task_and_entered_in_error_is_always_possible() -> None:
    failed = accepted().change_status(
        "a", S.FAILED, B.DECLINED_BY_PERSON, "did not want support", None
    )
    assert failed.status is S.FAILED
    with pytest.raises(TransitionRefused, match="final"):
        failed.change_status("a", S.IN_PROGRESS, None, None, None)
    assert (
        failed.change_status("a", S.ENTERED_IN_ERROR, None, None, None).status is S.ENTERED_IN_ERROR
    )


def worker(days: tuple[str, ...], leave: tuple[tuple[date, date], ...] = ()) -> LinkWorker:
    return LinkWorker("a", frozenset(), frozenset(), working_days=frozenset(days), leave=leave)


@pytest.mark.parametrize(
    ("offered_at", "days", "leave", "expected"),
    [
        (NOW, WEEKDAYS[:5], (), NOW + timedelta(days=2)),  # Monday -> Wednesday
        (NOW + timedelta(days=4), WEEKDAYS[:5], (), NOW + timedelta(days=8)),  # Friday -> Tuesday
        (
            NOW + timedelta(days=2),
            ("Mon", "Tue", "Wed"),
            (),
            NOW + timedelta(days=8),
        ),  # Wed -> next Tue
        # Leave on Tuesday and Wednesday: Monday's offer waits until Friday.
        (NOW, WEEKDAYS[:5], ((date(2026, 11, 24), date(2026, 11, 25)),), NOW + timedelta(days=4)),
    ],
)
def test_the_deadline_counts_the_workers_own_working_days(
    offered_at: datetime,
    days: tuple[str, ...],
    leave: tuple[tuple[date, date], ...],
    expected: datetime,
) -> None:
    assert OfferTimeout().deadline(offered_at, worker(days, leave)) == expected


def test_a_deadline_in_seconds_replaces_working_days() -> None:
    assert OfferTimeout(seconds=3).deadline(NOW, worker(("Sun",))) == NOW + timedelta(seconds=3)
    assert OfferTimeout(working_days=2).deadline(NOW, worker(())) == NOW + timedelta(days=2)


def test_a_worker_sees_only_what_they_hold_and_a_coordinator_their_boroughs() -> None:
    assert Viewer(worker_id="a").can_see("a", "Sutton")
    assert not Viewer(worker_id="a").can_see("b", "Sutton")
    assert not Viewer(worker_id="a").can_see(None, "Sutton")
    coordinator = Viewer(boroughs=frozenset({"Merton"}))
    assert coordinator.can_see(None, "Merton") and not coordinator.can_see("a", "Sutton")
    assert not coordinator.can_see("a", None)


def test_every_step_belongs_somewhere_and_router_steps_only_to_requested() -> None:
    from hub_router.domain.task_status import ROUTER_STEPS, STEPS, WORKER_STEPS

    assert set(STEPS) == set(S)
    for status in (S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.FAILED):
        assert STEPS[status] <= WORKER_STEPS, status
    assert STEPS[S.REQUESTED] == ROUTER_STEPS
    assert (
        set().union(*(STEPS[s] for s in (S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD, S.FAILED)))
        == WORKER_STEPS
    )


def test_the_referrer_cancels_an_open_referral_with_a_reason_and_never_a_closed_one() -> None:
    for task in (offered(), accepted(), ReferralTask("r1").wait_for_coordinator()):
        cancelled = task.cancel_for_referrer(" moved away ")
        assert (cancelled.status, cancelled.status_reason) == (S.CANCELLED, "moved away")
        assert cancelled.version == task.version + 1 and cancelled.offered_to is None
        with pytest.raises(TransitionRefused, match="needs a reason"):
            task.cancel_for_referrer("  ")
    closed = accepted().change_status("a", S.COMPLETED, B.FIRST_CONTACT_MADE, None, Outcomes("ok"))
    with pytest.raises(TransitionRefused, match="cannot move from completed"):
        closed.cancel_for_referrer("too late")
