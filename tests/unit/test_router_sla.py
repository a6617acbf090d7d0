"""Working days and the service level rules, with the clock given by the test."""

from datetime import UTC, date, datetime, timedelta

import pytest

from hub_router.domain.sla import (
    Level,
    Rule,
    SlaPolicy,
    SlaTimer,
    add_working_days,
    breaches,
    clock_events,
    is_working_day,
    next_due,
    resolved_by,
)
from hub_router.domain.task_status import BusinessStatus as B
from hub_router.domain.task_status import TaskStatus as S

POLICY = SlaPolicy(first_contact_working_days=5, closure_weeks=12, escalation_working_days=5)


def test_weekends_and_bank_holidays_are_not_working_days() -> None:
    assert is_working_day(date(2026, 4, 2))  # Thursday before Easter
    assert not is_working_day(date(2026, 4, 3))  # Good Friday
    assert not is_working_day(date(2026, 4, 4))  # Saturday
    assert not is_working_day(date(2026, 4, 5))  # Sunday
    assert not is_working_day(date(2026, 4, 6))  # Easter Monday
    assert not is_working_day(date(2026, 12, 28))  # Boxing Day observed (26th is a Saturday)
    assert is_working_day(date(2026, 3, 17))  # St Patrick's Day: a holiday in Northern Ireland only


def test_counting_working_days_skips_a_weekend() -> None:
    friday = date(2026, 11, 20)
    assert add_working_days(friday, 1) == date(2026, 11, 23)  # Monday
    assert add_working_days(friday, 5) == date(2026, 11, 27)  # next Friday
    assert add_working_days(friday, 0) == friday


def test_counting_working_days_skips_easter() -> None:
    # Accepted on the Thursday before Easter: Good Friday to Easter Monday do not count.
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert add_working_days(date(2026, 4, 2), 5) == date(2026, 4, 13)


def test_counting_refuses_negative_days() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 4, 2), -1)


def timer(accepted_at: datetime, **changes: object) -> SlaTimer:
    return SlaTimer("r1", "Merton", accepted_at, **changes)  # type: ignore[arg-type]


# Accepted on the Thursday before Easter 2026, at 15:00 London time (14:00 UTC, summer time).
ACCEPTED = datetime(2026, 4, 2, 14, 0, tzinfo=UTC)
# Five working days after 2 April, skipping Good Friday to Easter Monday, is Monday 13 April;
# first contact is due by the end of it: midnight London time, 23:00 UTC.
FIRST_CONTACT_DUE = datetime(2026, 4, 13, 23, 0, tzinfo=UTC)


def test_first_contact_is_due_by_the_end_of_the_fifth_working_day() -> None:
    assert POLICY.first_contact_due(ACCEPTED) == FIRST_CONTACT_DUE
    just_before = FIRST_CONTACT_DUE - timedelta(seconds=1)
    assert breaches(timer(ACCEPTED), POLICY, just_before) == []
    [breach] = breaches(timer(ACCEPTED), POLICY, FIRST_CONTACT_DUE)
    assert (breach.rule, breach.level, breach.referral_id, breach.borough) == (
        Rule.FIRST_CONTACT,
        Level.BREACH,
        "r1",
        "Merton",
    )
    assert breach.due_at == FIRST_CONTACT_DUE


def test_the_number_of_working_days_is_configurable() -> None:
    # One working day after Thursday 2 April is Tuesday 7 April (Easter in between).
    policy = SlaPolicy(first_contact_working_days=1)
    assert policy.first_contact_due(ACCEPTED) == datetime(2026, 4, 7, 23, 0, tzinfo=UTC)


def test_a_breach_already_raised_is_not_raised_again() -> None:
    raised = timer(ACCEPTED, raised=frozenset({(Rule.FIRST_CONTACT, Level.BREACH)}))
    assert breaches(raised, POLICY, FIRST_CONTACT_DUE + timedelta(hours=1)) == []


def test_first_contact_made_means_no_first_contact_breach() -> None:
    reached = timer(ACCEPTED, first_contact_at=ACCEPTED + timedelta(days=1))
    assert breaches(reached, POLICY, FIRST_CONTACT_DUE + timedelta(days=30)) == []


def test_a_breach_still_open_five_more_working_days_escalates() -> None:
    # Five working days after Monday 13 April: Monday 20 April, due by its end (BST).
    escalation_due = datetime(2026, 4, 20, 23, 0, tzinfo=UTC)
    assert POLICY.escalation_due(ACCEPTED) == escalation_due
    raised = timer(ACCEPTED, raised=frozenset({(Rule.FIRST_CONTACT, Level.BREACH)}))
    assert breaches(raised, POLICY, escalation_due - timedelta(seconds=1)) == []
    [escalation] = breaches(raised, POLICY, escalation_due)
    assert (escalation.rule, escalation.level) == (Rule.FIRST_CONTACT, Level.ESCALATED)


def test_a_sweep_that_missed_days_raises_the_breach_and_escalation_together() -> None:
    found = breaches(timer(ACCEPTED), POLICY, datetime(2026, 5, 1, tzinfo=UTC))
    assert [(b.rule, b.level) for b in found] == [
        (Rule.FIRST_CONTACT, Level.BREACH),
        (Rule.FIRST_CONTACT, Level.ESCALATED),
    ]


def test_closure_is_due_twelve_weeks_after_acceptance() -> None:
    reached = timer(ACCEPTED, first_contact_at=ACCEPTED + timedelta(days=1))
    due = ACCEPTED + timedelta(weeks=12)
    assert breaches(reached, POLICY, due - timedelta(seconds=1)) == []
    [breach] = breaches(reached, POLICY, due)
    assert (breach.rule, breach.level, breach.due_at) == (Rule.CLOSURE, Level.BREACH, due)
    assert breaches(reached, SlaPolicy(closure_weeks=13), due) == []


def test_a_closed_referral_breaches_nothing() -> None:
    closed = timer(ACCEPTED, closed_at=ACCEPTED + timedelta(days=2))
    assert breaches(closed, POLICY, ACCEPTED + timedelta(weeks=52)) == []


def test_which_changes_start_and_stop_the_clocks() -> None:
    assert clock_events((S.REQUESTED, B.OFFERED), (S.ACCEPTED, B.ALLOCATED)) == (
        True,
        False,
        False,
    )
    assert clock_events((S.ACCEPTED, B.ALLOCATED), (S.IN_PROGRESS, B.FIRST_CONTACT_MADE)) == (
        False,
        True,
        False,
    )
    # Moving on from first contact to services connected is not a second first contact.
    assert clock_events(
        (S.IN_PROGRESS, B.FIRST_CONTACT_MADE), (S.IN_PROGRESS, B.CONNECTED_TO_SERVICES)
    ) == (False, False, False)
    assert clock_events((S.ACCEPTED, B.CONTACT_ATTEMPTED), (S.FAILED, B.UNABLE_TO_CONTACT)) == (
        False,
        False,
        True,
    )


def test_resolution_names_only_the_rules_that_were_raised() -> None:
    both = [(Rule.FIRST_CONTACT, Level.BREACH), (Rule.FIRST_CONTACT, Level.ESCALATED)]
    assert resolved_by(both, first_contact=True, closed=False) == [Rule.FIRST_CONTACT]
    assert resolved_by(both, first_contact=False, closed=False) == []
    closure = [(Rule.CLOSURE, Level.BREACH)]
    assert resolved_by(closure, first_contact=True, closed=False) == []
    assert resolved_by([*both, *closure], first_contact=False, closed=True) == [
        Rule.FIRST_CONTACT,
        Rule.CLOSURE,
    ]


def test_the_next_deadline_is_the_earliest_not_yet_raised() -> None:
    assert next_due(timer(ACCEPTED), POLICY) == FIRST_CONTACT_DUE
    breached = timer(ACCEPTED, raised=frozenset({(Rule.FIRST_CONTACT, Level.BREACH)}))
    assert next_due(breached, POLICY) == POLICY.escalation_due(ACCEPTED)
    reached = timer(ACCEPTED, first_contact_at=ACCEPTED + timedelta(days=1))
    assert next_due(reached, POLICY) == ACCEPTED + timedelta(weeks=12)
    everything = frozenset(
        {(Rule.FIRST_CONTACT, Level.BREACH), (Rule.FIRST_CONTACT, Level.ESCALATED)}
        | {(Rule.CLOSURE, Level.BREACH)}
    )
    assert next_due(timer(ACCEPTED, raised=everything), POLICY) is None
    assert next_due(timer(ACCEPTED, closed_at=ACCEPTED), POLICY) is None
