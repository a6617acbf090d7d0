"""The personalised care and support plan as a FHIR R4 CarePlan with its Goals contained."""

from __future__ import annotations

from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NEED_DISPLAY
from hub_router.adapters.fhir_task import EPISODE_ID_SYSTEM
from hub_router.domain.care_plan import ActionBy, CarePlan, Goal

GOAL_ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"
ACTION_BY_DISPLAY = {
    ActionBy.PERSON: "The person",
    ActionBy.LINK_WORKER: "Link worker",
    ActionBy.SERVICE: "Community service",
}


def _goal(goal: Goal, goal_id: str, subject: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Goal",
        "id": goal_id,
        "lifecycleStatus": "completed" if goal.achieved else "active",
        "achievementStatus": {
            "coding": [
                {
                    "system": GOAL_ACHIEVEMENT_SYSTEM,
                    "code": "achieved" if goal.achieved else "in-progress",
                }
            ]
        },
        "description": {"text": goal.description},
        "subject": subject,
    }
    if goal.need is not None:
        resource["category"] = [
            {
                "coding": [
                    {
                        "system": NEED_CATEGORY_SYSTEM,
                        "code": goal.need.value,
                        "display": NEED_DISPLAY[goal.need],
                    }
                ]
            }
        ]
    if goal.target_date is not None:
        resource["target"] = [{"dueDate": goal.target_date.isoformat()}]
    return resource


def to_care_plan(plan: CarePlan, episode_id: str, owner: str | None) -> dict[str, Any]:
    """One version of the plan; the person is named by episode id only."""
    subject = {"type": "Patient", "identifier": {"system": EPISODE_ID_SYSTEM, "value": episode_id}}
    goal_ids = [f"goal-{n + 1}" for n in range(len(plan.goals))]
    care_plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": plan.referral_id,
        "meta": {"versionId": str(plan.version)},
        "identifier": [{"system": sys.REFERRAL_ID_SYSTEM, "value": plan.referral_id}],
        "status": "active",
        "intent": "plan",
        "title": "Personalised care and support plan",
        "description": plan.what_matters,
        "subject": subject,
    }
    if plan.recorded_at is not None:
        care_plan["meta"]["lastUpdated"] = plan.recorded_at.isoformat()
    if owner:
        care_plan["author"] = {"reference": f"PractitionerRole/{owner}"}
    if plan.goals:
        care_plan["contained"] = [
            _goal(goal, goal_id, subject)
            for goal, goal_id in zip(plan.goals, goal_ids, strict=True)
        ]
        care_plan["goal"] = [{"reference": f"#{goal_id}"} for goal_id in goal_ids]
    if plan.actions:
        care_plan["activity"] = [
            {
                "detail": {
                    "status": "completed" if action.done else "not-started",
                    "description": action.description,
                    "performer": [{"display": ACTION_BY_DISPLAY[action.by]}],
                    **({"scheduledPeriod": {"end": action.due.isoformat()}} if action.due else {}),
                }
            }
            for action in plan.actions
        ]
    return care_plan
