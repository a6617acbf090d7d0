"""A link worker's pages: offers to answer, the caseload, and recording progress."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.task_outputs import Outcomes
from hub_common.fhir.task_status import OPEN, WORKING, in_order
from hub_common.fhir.task_status import BusinessStatus as B
from hub_common.fhir.task_status import TaskStatus as S
from hub_common.fhir.wellbeing import Instrument, Timepoint, WellbeingMeasure
from hub_web.adapters.outputs_body import outputs_body
from hub_web.domain.care_plan import PlanView, plan_view
from hub_web.domain.charts import BarChart
from hub_web.domain.onward import OnwardView, onward_view
from hub_web.domain.person import PersonView, person_view
from hub_web.domain.person_wellbeing import person_wellbeing_charts
from hub_web.domain.progress import Moves, moves_from
from hub_web.domain.same_person import OtherReferral, other_referrals
from hub_web.domain.tasks import TaskView, task_view
from hub_web.service_layer.commands import (
    CloseReferral,
    DeclineOffer,
    RecordCarePlan,
    RecordFirstContact,
    RecordProgress,
)
from hub_web.service_layer.ports import Caller, HubApiPort

CASELOAD_STATUSES = in_order(WORKING)


OFFER_SORTS = {
    "deadline": "Answer soonest first",
    "newest": "Newest offer first",
    "oldest": "Longest waiting first",
}
NEVER = datetime.max.replace(tzinfo=UTC)
LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OfferFilter:
    """How the inbox is narrowed and ordered: by a need, by a language, by deadline or age."""

    need: str = ""
    language: str = ""
    sort: str = "deadline"

    def keeps(self, task: TaskView) -> bool:
        routing = task.routing
        if self.need and (routing is None or self.need not in routing.needs):
            return False
        return not self.language or (routing is not None and routing.language == self.language)

    def ordered(self, offers: list[TaskView]) -> list[TaskView]:
        if self.sort == "newest":
            return sorted(offers, key=lambda t: t.last_modified or LONG_AGO, reverse=True)
        if self.sort == "oldest":
            return sorted(offers, key=lambda t: t.last_modified or LONG_AGO)
        # The offer that passes to someone else first comes first; those without one last.
        return sorted(
            offers, key=lambda t: (t.offer_deadline or NEVER, t.last_modified or LONG_AGO)
        )


@dataclass(frozen=True)
class Desk:
    """Everything the worker holds or is offered, sorted for the inbox and caseload pages."""

    offers: list[TaskView]  # those the filter keeps, in its order
    caseload: dict[str, list[TaskView]]  # status -> Tasks, in CASELOAD_STATUSES order
    closed: list[TaskView]
    offer_count: int = 0  # every open offer, before filtering
    needs_offered: tuple[str, ...] = ()  # the needs and languages among all open offers,
    languages_offered: tuple[str, ...] = ()  # for the filter's choices


@dataclass(frozen=True)
class ReferralPage:
    task: TaskView
    moves: Moves
    person: PersonView | None = None  # only once the worker has accepted the referral
    plan: PlanView | None = None
    others: list[OtherReferral] = field(default_factory=list)  # the person's other referrals
    onward: list[OnwardView] = field(default_factory=list)  # where the worker sent the person

    @property
    def wellbeing_charts(self) -> list[BarChart]:
        """The person's wellbeing, first contact against closure, one chart per instrument."""
        return person_wellbeing_charts(self.task.outcomes)


class WorkerDesk:
    """The link worker's use cases, each a call or two to the router with their token."""

    def __init__(
        self,
        api: HubApiPort,
        instrument: Instrument = Instrument.ONS4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self.instrument = instrument  # the region's wellbeing measure (HUB_WELLBEING_INSTRUMENT)
        self._clock = clock

    async def desk(self, caller: Caller, offer_filter: OfferFilter | None = None) -> Desk:
        chosen = offer_filter or OfferFilter()
        tasks = [
            task_view(t)
            for t in await self._api.router_tasks(caller.token, owner=caller.principal.subject)
        ]
        offers = [t for t in tasks if t.is_offer]
        routings = [t.routing for t in offers if t.routing]
        return Desk(
            offers=chosen.ordered([t for t in offers if chosen.keeps(t)]),
            caseload={s: [t for t in tasks if t.status == s] for s in CASELOAD_STATUSES},
            closed=[t for t in tasks if t.status not in OPEN],
            offer_count=len(offers),
            needs_offered=tuple(sorted({n for r in routings for n in r.needs})),
            languages_offered=tuple(sorted({r.language for r in routings if r.language})),
        )

    async def referral(self, caller: Caller, referral_id: str) -> ReferralPage:
        """The Task; and, while the worker is working on it, the person and the plan."""
        task = task_view(await self._api.router_task(caller.token, referral_id))
        page = ReferralPage(task, moves_from(task.status, task.step))
        if task.status not in CASELOAD_STATUSES:
            return page
        request, plan, same_person, onward = await asyncio.gather(
            self._api.person(caller.token, referral_id),
            self._api.care_plan(caller.token, referral_id),
            self._api.same_person(caller.token, referral_id),
            self._api.onward_tasks(caller.token, part_of=referral_id),
        )
        return replace(
            page,
            person=person_view(request) if request else None,
            plan=plan_view(plan) if plan else None,
            others=other_referrals(same_person or [], referral_id),
            onward=[onward_view(t) for t in onward],
        )

    async def record_care_plan(self, caller: Caller, command: RecordCarePlan) -> None:
        await self._api.record_care_plan(
            caller.token, command.referral_id, command.body, command.version
        )

    async def accept(self, caller: Caller, referral_id: str) -> None:
        await self._api.accept(caller.token, referral_id)

    async def decline(self, caller: Caller, command: DeclineOffer) -> None:
        await self._api.decline(caller.token, command.referral_id, command.reason)

    async def record_progress(self, caller: Caller, command: RecordProgress) -> None:
        body: dict[str, Any] = {}
        if command.status:
            body["status"] = command.status
        if command.step:
            body["businessStatus"] = command.step
        if command.note:
            body["reason"] = command.note
        await self._api.update_status(caller.token, command.referral_id, body)

    def _measure(self, when: Timepoint, answers: tuple[tuple[str, int], ...]) -> WellbeingMeasure:
        return WellbeingMeasure(self.instrument, when, self._clock(), answers)

    async def record_first_contact(self, caller: Caller, command: RecordFirstContact) -> None:
        """First contact made: in progress, the step, and the first wellbeing measure beside
        whatever the Task already records (outputs are replaced as a whole)."""
        task = task_view(await self._api.router_task(caller.token, command.referral_id))
        measure = self._measure(Timepoint.FIRST_CONTACT, command.answers)
        body: dict[str, Any] = {
            "businessStatus": B.FIRST_CONTACT_MADE,
            "outputs": outputs_body(task.outcomes.with_measure(measure)),
        }
        if task.status != S.IN_PROGRESS:
            body["status"] = S.IN_PROGRESS
        if command.note:
            body["reason"] = command.note
        await self._api.update_status(caller.token, command.referral_id, body)

    async def close(self, caller: Caller, command: CloseReferral) -> None:
        """Complete: the closing measure beside the first one, the support offered, a summary.

        Outputs are replaced as a whole, so the support the router recorded from onward
        referrals (directory services, with their ids) is sent back beside the form's rows:
        the message back and the per-service outcomes count them."""
        task = task_view(await self._api.router_task(caller.token, command.referral_id))
        closing = task.outcomes.with_measure(self._measure(Timepoint.CLOSURE, command.answers))
        onward = tuple(item for item in task.outcomes.support if item.service_id)
        support = onward + tuple(item for item in command.support if item not in onward)
        outcomes = Outcomes(command.summary or None, closing.measures, support)
        await self._api.update_status(
            caller.token,
            command.referral_id,
            {
                "status": S.COMPLETED,
                "businessStatus": B.CONNECTED_TO_SERVICES if support else B.FIRST_CONTACT_MADE,
                "outputs": outputs_body(outcomes),
            },
        )
