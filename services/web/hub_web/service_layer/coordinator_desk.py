"""A coordinator's pages: referrals waiting for allocation, assigning by hand, the charts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hub_web.domain.alerts import OpenAlert, open_alert
from hub_web.domain.charts import BarChart, bar_chart
from hub_web.domain.metrics import (
    CASELOAD_ORDER,
    ContactTimes,
    caseload_by_worker,
    referrals_per_source_week,
    time_to_first_contact,
)
from hub_web.domain.person import PersonView, person_view
from hub_web.domain.person_wellbeing import person_wellbeing_charts
from hub_web.domain.same_person import PairToDecide, pair_to_decide
from hub_web.domain.service_outcomes import ServiceOutcome, attended_chart, outcomes_by_service
from hub_web.domain.tasks import TaskView, task_view
from hub_web.domain.waiting import WaitingReferral, waiting_referral
from hub_web.domain.wellbeing_change import CohortRow, change_by_cohort
from hub_web.service_layer.commands import AssignReferral
from hub_web.service_layer.ports import Caller, HubApiPort


@dataclass(frozen=True)
class Dashboard:
    """The coordinator's three charts and what they are built from."""

    caseload: BarChart
    per_source_week: BarChart
    contact_chart: BarChart
    contact_times: ContactTimes
    tasks_read: int
    wellbeing: dict[str, list[CohortRow]]  # by source, need and borough
    services: list[ServiceOutcome]  # per community service: people, attended, wellbeing
    attended_chart: BarChart


@dataclass(frozen=True)
class CoordinatorReferral:
    """One referral of the coordinator's boroughs: the person, the Task, their wellbeing."""

    task: TaskView
    person: PersonView | None

    @property
    def wellbeing_charts(self) -> list[BarChart]:
        return person_wellbeing_charts(self.task.outcomes)


class CoordinatorDesk:
    """The coordinator's use cases, through the router with their token."""

    def __init__(self, api: HubApiPort) -> None:
        self._api = api

    async def waiting(self, caller: Caller) -> list[WaitingReferral]:
        return [waiting_referral(entry) for entry in await self._api.waiting(caller.token)]

    async def alerts(self, caller: Caller) -> list[OpenAlert]:
        """Open service level breaches and escalations in the caller's boroughs."""
        return [open_alert(entry) for entry in await self._api.alerts(caller.token)]

    async def pairs_to_decide(self, caller: Caller) -> list[PairToDecide]:
        """Pairs of referrals in the caller's boroughs that may be one person."""
        return [pair_to_decide(entry) for entry in await self._api.person_reviews(caller.token)]

    async def decide_pair(self, caller: Caller, review_id: str, same: bool) -> None:
        await self._api.decide_person_review(
            caller.token, review_id, "confirm" if same else "split"
        )

    async def referral(self, caller: Caller, referral_id: str) -> CoordinatorReferral:
        """The Task (router) and the person (notifier), each API applying its own borough
        rule; the notifier records the read of the person."""
        task, request = await asyncio.gather(
            self._api.router_task(caller.token, referral_id),
            self._api.person(caller.token, referral_id),
        )
        return CoordinatorReferral(task_view(task), person_view(request) if request else None)

    async def assign(self, caller: Caller, command: AssignReferral) -> None:
        await self._api.assign(caller.token, command.referral_id, command.worker)

    async def dashboard(self, caller: Caller) -> Dashboard:
        found, roster = await asyncio.gather(
            self._api.router_tasks(caller.token), self._api.workers(caller.token)
        )
        tasks = [task_view(t) for t in found]
        loads = caseload_by_worker(tasks)
        names = {str(w.get("id")): str(w.get("name") or w.get("id")) for w in roster}
        limits = {str(w.get("id")): w.get("maxCaseload") for w in roster}
        sources, weeks = referrals_per_source_week(tasks)
        contact = time_to_first_contact(tasks)
        services = outcomes_by_service(tasks)
        return Dashboard(
            caseload=bar_chart(
                "Open referrals per link worker",
                "referrals",
                # By name, against their caseload limit when the worker is one of the
                # coordinator's boroughs (the router's /coordination/workers).
                sorted(
                    (
                        (names.get(worker, worker), [counts[s] for s in CASELOAD_ORDER], limit)
                        for worker, counts in loads.items()
                        for limit in [limits.get(worker)]
                    ),
                    key=lambda row: row[0],
                ),
                ["Offered", "Accepted", "In progress", "On hold"],
                "Link worker",
            ),
            per_source_week=bar_chart(
                "Referrals per source per week",
                "referrals",
                [(week, [counts[s] for s in sources], None) for week, counts in weeks.items()],
                sources,
                "Week",
            ),
            contact_chart=bar_chart(
                "Time from referral to first contact",
                "referrals",
                [(label, [count], None) for label, count in contact.bands],
                ["Referrals"],
                "Time to first contact",
            ),
            contact_times=contact,
            tasks_read=len(tasks),
            wellbeing={by: change_by_cohort(tasks, by) for by in ("source", "need", "borough")},
            services=services,
            attended_chart=attended_chart(services),
        )
