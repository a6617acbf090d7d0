"""ONS4 scores travel in the router's Task `outcome` text and must come back intact."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_web.domain.outcomes import (
    MAX_OUTCOME_CHARS,
    MAX_SUMMARY_CHARS,
    InvalidScores,
    Ons4,
    OutcomeRecord,
    Reading,
    parse_outcome,
)

scores = st.builds(Ons4, *(st.integers(0, 10) for _ in range(4)))
minutes = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(second=0, microsecond=0))
summaries = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), max_size=MAX_SUMMARY_CHARS
).map(str.strip)


@given(scores, minutes, scores, minutes, summaries)
def test_scores_and_summary_survive_the_round_trip_within_the_routers_limit(
    first: Ons4, first_at: datetime, closing: Ons4, closing_at: datetime, summary: str
) -> None:
    record = OutcomeRecord(Reading(first_at, first), Reading(closing_at, closing), summary)
    text = record.to_text()
    assert len(text) <= MAX_OUTCOME_CHARS
    assert parse_outcome(text) == record


def test_first_contact_alone_leaves_closure_empty() -> None:
    at = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    text = OutcomeRecord(first_contact=Reading(at, Ons4(4, 5, 3, 7))).to_text()
    assert text == (
        "ONS4 first contact 2026-11-23T10:15Z: satisfied 4, worthwhile 5, happy 3, anxious 7."
    )
    assert parse_outcome(text).closure is None


def test_text_written_elsewhere_is_kept_as_the_summary() -> None:
    assert parse_outcome("Joined a walking group.") == OutcomeRecord(
        summary="Joined a walking group."
    )
    assert parse_outcome(None) == OutcomeRecord()


def test_an_empty_record_still_gives_the_router_an_outcome() -> None:
    assert OutcomeRecord().to_text()


@pytest.mark.parametrize("bad", [-1, 11])
def test_scores_outside_zero_to_ten_are_refused(bad: int) -> None:
    with pytest.raises(InvalidScores):
        Ons4(bad, 5, 5, 5)


def test_a_summary_too_long_to_fit_is_refused() -> None:
    with pytest.raises(InvalidScores):
        OutcomeRecord(summary="x" * (MAX_SUMMARY_CHARS + 1)).to_text()
