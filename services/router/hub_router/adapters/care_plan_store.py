"""Care plan versions in PostgreSQL: the newest, the whole history, and a new one."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.needs import NeedCategory
from hub_router.adapters import orm
from hub_router.domain.care_plan import Action, ActionBy, CarePlan, Goal

c = orm.care_plans


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def plan_to_json(plan: CarePlan) -> dict[str, Any]:
    return {
        "whatMatters": plan.what_matters,
        "goals": [
            {
                **asdict(goal),
                "target_date": goal.target_date.isoformat() if goal.target_date else None,
            }
            for goal in plan.goals
        ],
        "actions": [
            {**asdict(action), "due": action.due.isoformat() if action.due else None}
            for action in plan.actions
        ],
    }


def _from_row(row: Any) -> CarePlan:
    data = row.plan
    return CarePlan(
        referral_id=row.referral_id,
        what_matters=data["whatMatters"],
        goals=tuple(
            Goal(
                g["description"],
                NeedCategory(g["need"]) if g.get("need") else None,
                _day(g.get("target_date")),
                bool(g.get("achieved")),
            )
            for g in data.get("goals", [])
        ),
        actions=tuple(
            Action(a["description"], ActionBy(a["by"]), _day(a.get("due")), bool(a.get("done")))
            for a in data.get("actions", [])
        ),
        version=row.version,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


async def versions(
    session: AsyncSession, referral_id: str, *, newest_only: bool = False
) -> list[CarePlan]:
    """The referral's plan versions, newest first (only the newest when asked)."""
    query = select(c).where(c.c.referral_id == referral_id).order_by(c.c.version.desc())
    if newest_only:
        query = query.limit(1)
    return [_from_row(row) for row in (await session.execute(query)).all()]


async def add(session: AsyncSession, plan: CarePlan) -> None:
    """Insert a version; a concurrent writer of the same version fails on the primary key."""
    await session.execute(
        insert(c).values(
            referral_id=plan.referral_id,
            version=plan.version,
            plan=plan_to_json(plan),
            recorded_by=plan.recorded_by,
            recorded_at=plan.recorded_at,
        )
    )


class CarePlanRepository:
    """Care plan versions, in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def versions(self, referral_id: str, *, newest_only: bool = False) -> list[CarePlan]:
        return await versions(self._session, referral_id, newest_only=newest_only)

    async def add(self, plan: CarePlan) -> None:
        await add(self._session, plan)
