"""The personalised care and support plan: its rules, and its FHIR shape (official R4 schema)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub_common.fhir.needs import NeedCategory
from hub_router.adapters.fhir_care_plan import to_care_plan
from hub_router.domain.care_plan import (
    Action,
    ActionBy,
    CarePlan,
    Goal,
    PlanConflict,
    PlanRefused,
    next_version,
)
from tests.unit.test_fhir_r4_schema import errors

PLAN = CarePlan(
    referral_id="ref-1",
    what_matters="Getting out of the flat and seeing people again",
    goals=(
        Goal(
            "Go to a lunch club once a week", NeedCategory.LONELINESS_ISOLATION, date(2027, 1, 31)
        ),
        Goal("Sort out the gas bill", NeedCategory.MONEY_DEBT_BENEFITS, achieved=True),
    ),
    actions=(
        Action("Phone the lunch club", ActionBy.PERSON, date(2026, 12, 10)),
        Action("Refer to welfare benefits advice", ActionBy.LINK_WORKER, done=True),
    ),
    version=2,
    recorded_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
    recorded_by="lw-1",
)


def test_the_plan_is_a_valid_r4_care_plan_naming_the_person_by_episode_only() -> None:
    resource = to_care_plan(PLAN, "episode-1", "lw-1")
    assert errors(resource) == []
    for goal in resource["contained"]:
        assert errors(goal) == []
    assert resource["meta"]["versionId"] == "2"
    assert resource["subject"]["identifier"]["value"] == "episode-1"
    assert [g["reference"] for g in resource["goal"]] == ["#goal-1", "#goal-2"]
    assert [g["lifecycleStatus"] for g in resource["contained"]] == ["active", "completed"]
    assert resource["contained"][0]["category"][0]["coding"][0]["code"] == "loneliness-isolation"
    assert [a["detail"]["status"] for a in resource["activity"]] == ["not-started", "completed"]
    assert resource["activity"][0]["detail"]["scheduledPeriod"] == {"end": "2026-12-10"}


def test_a_plan_of_only_what_matters_has_no_empty_lists() -> None:
    resource = to_care_plan(CarePlan("ref-1", "My garden"), "episode-1", None)
    assert errors(resource) == []
    assert not {"goal", "contained", "activity", "author"} & resource.keys()


def test_empty_words_are_refused_naming_the_field() -> None:
    with pytest.raises(PlanRefused) as refused:
        CarePlan("r", "fine", goals=(Goal("  "),)).check()
    assert refused.value.field_path == "goals[0].description"
    with pytest.raises(PlanRefused, match="whatMatters"):
        CarePlan("r", "").check()


def test_a_plan_written_over_a_version_the_writer_had_not_seen_is_a_conflict() -> None:
    assert next_version(None, None) == 1
    assert next_version(PLAN, 2) == 3
    assert next_version(PLAN, None) == 3  # no If-Match: the writer takes the risk
    with pytest.raises(PlanConflict, match="version 2, not 1"):
        next_version(PLAN, 1)
