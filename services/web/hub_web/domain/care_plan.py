"""A referral's personalised care and support plan as the web shows it, from the router's
FHIR CarePlan (contained Goals, one activity per agreed action). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY, NeedCategory


@dataclass(frozen=True)
class GoalView:
    description: str
    need: str | None
    target: str | None
    achieved: bool


@dataclass(frozen=True)
class ActionView:
    description: str
    by: str
    due: str | None
    done: bool


@dataclass(frozen=True)
class PlanView:
    version: int
    what_matters: str
    goals: tuple[GoalView, ...]
    actions: tuple[ActionView, ...]
    updated: str | None


def _need(goal: dict[str, Any]) -> str | None:
    for concept in goal.get("category") or []:
        for coding in concept.get("coding") or []:
            if coding.get("system") == NEED_CATEGORY_SYSTEM:
                try:
                    return NEED_DISPLAY[NeedCategory(coding.get("code"))]
                except ValueError:
                    return None
    return None


def plan_view(care_plan: dict[str, Any]) -> PlanView:
    goals = {g.get("id"): g for g in care_plan.get("contained") or []}
    return PlanView(
        version=int((care_plan.get("meta") or {}).get("versionId") or 1),
        what_matters=str(care_plan.get("description") or ""),
        goals=tuple(
            GoalView(
                str((goal.get("description") or {}).get("text") or ""),
                _need(goal),
                next((t.get("dueDate") for t in goal.get("target") or []), None),
                goal.get("lifecycleStatus") == "completed",
            )
            for reference in care_plan.get("goal") or []
            if (goal := goals.get(str(reference.get("reference", "")).removeprefix("#")))
        ),
        actions=tuple(
            ActionView(
                str(detail.get("description") or ""),
                str(((detail.get("performer") or [{}])[0]).get("display") or ""),
                (detail.get("scheduledPeriod") or {}).get("end"),
                detail.get("status") == "completed",
            )
            for activity in care_plan.get("activity") or []
            if (detail := activity.get("detail"))
        ),
        updated=(care_plan.get("meta") or {}).get("lastUpdated"),
    )
