import itertools

import pytest

from hub_router.domain.task_status import ALLOWED, TaskStatus, TransitionRefused, check_transition

S = TaskStatus
CONTRACT = {  # docs/contract.md, "The Task status machine"
    (S.REQUESTED, S.ACCEPTED), (S.REQUESTED, S.REJECTED), (S.REQUESTED, S.CANCELLED),
    (S.ACCEPTED, S.IN_PROGRESS), (S.ACCEPTED, S.ON_HOLD), (S.ACCEPTED, S.COMPLETED),
    (S.ACCEPTED, S.FAILED), (S.ACCEPTED, S.CANCELLED),
    (S.IN_PROGRESS, S.ON_HOLD), (S.IN_PROGRESS, S.COMPLETED), (S.IN_PROGRESS, S.FAILED),
    (S.IN_PROGRESS, S.CANCELLED),
    (S.ON_HOLD, S.IN_PROGRESS), (S.ON_HOLD, S.COMPLETED), (S.ON_HOLD, S.FAILED), (S.ON_HOLD, S.CANCELLED),
}  # fmt: skip


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_exactly_the_contract_transitions_are_allowed(current: TaskStatus, new: TaskStatus) -> None:
    allowed = (current, new) in CONTRACT or (
        new is S.ENTERED_IN_ERROR and current is not S.ENTERED_IN_ERROR
    )
    if allowed:
        check_transition(current, new, reason="a reason")
    else:
        with pytest.raises(TransitionRefused):
            check_transition(current, new, reason="a reason")


def test_the_table_has_no_transition_outside_the_contract() -> None:
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == CONTRACT


@pytest.mark.parametrize("new", [S.REJECTED, S.CANCELLED])
def test_rejecting_or_cancelling_needs_a_reason(new: TaskStatus) -> None:
    with pytest.raises(TransitionRefused, match="needs a reason"):
        check_transition(S.REQUESTED, new, reason=" ")


def test_refusal_names_the_allowed_moves() -> None:
    with pytest.raises(TransitionRefused, match="allowed: accepted, cancelled, rejected"):
        check_transition(S.REQUESTED, S.COMPLETED, reason=None)
