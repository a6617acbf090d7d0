"""Find a service for a referral: the link worker's filters become one router search for
that referral (the router measures distance from the person's district, so the page never
handles the person's address)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.task_status import WORKING
from hub_web.domain.person import PersonView, person_view
from hub_web.domain.services_found import ServiceFound, services_found
from hub_web.domain.tasks import TaskView, task_view
from hub_web.service_layer.ports import Caller, HubApiPort

DISTANCES_KM = (1, 2, 5, 10, 20)
DAYS = (("mon", "Mon"), ("tue", "Tue"), ("wed", "Wed"), ("thu", "Thu"), ("fri", "Fri"),
        ("sat", "Sat"), ("sun", "Sun"))  # fmt: skip
CAPACITIES = (("available", "Places available"), ("waiting-list", "Waiting list"),
              ("unknown", "Not stated"), ("full", "Full"))  # fmt: skip


@dataclass(frozen=True)
class ServiceFilters:
    """What the worker asked for; empty values ask for nothing."""

    needs: tuple[str, ...] = ()
    text: str = ""
    distance_km: int | None = None
    days: tuple[str, ...] = ()
    free_only: bool = False
    age: int | None = None
    capacities: tuple[str, ...] = ()

    def params(self, referral_id: str) -> list[tuple[str, str]]:
        params = [("referral", referral_id), ("_count", "30")]
        params += [("category", need) for need in self.needs]
        if self.text.strip():
            params.append(("_text", self.text.strip()))
        if self.distance_km:
            params.append(("distance", str(self.distance_km)))
        if self.days:
            params.append(("open-on", ",".join(self.days)))
        if self.free_only:
            params.append(("free", "true"))
        if self.age is not None:
            params.append(("age", str(self.age)))
        if self.capacities:
            params.append(("capacity", ",".join(self.capacities)))
        return params


@dataclass(frozen=True)
class ReferOnward:
    """Send the person to a service: with their consent (and how they gave it), only the
    details the worker chose to share, the need it is for, and a note for the service."""

    referral_id: str
    service_id: str
    need: str
    name: str
    phone: str | None
    email: str | None
    consent_method: str
    note: str | None

    def body(self, now: datetime) -> dict[str, Any]:
        person: dict[str, Any] = {"name": self.name}
        if self.phone:
            person["phone"] = self.phone
        if self.email:
            person["email"] = self.email
        body: dict[str, Any] = {
            "service": self.service_id,
            "need": self.need,
            "person": person,
            "consent": {
                "given": True,
                "recordedAt": now.isoformat(timespec="seconds"),
                "method": self.consent_method,
            },
        }
        if self.note:
            body["note"] = self.note
        return body


@dataclass(frozen=True)
class FindPage:
    task: TaskView
    filters: ServiceFilters
    services: list[ServiceFound]
    person: PersonView | None = None  # to offer what to share, once the worker holds it


class ServiceFinder:
    def __init__(self, api: HubApiPort) -> None:
        self._api = api

    async def find(
        self, caller: Caller, referral_id: str, filters: ServiceFilters | None
    ) -> FindPage:
        """The referral (404 from the router if not the worker's) and the services found; on a
        first visit, the referral's own needs are the filter."""
        task = task_view(await self._api.router_task(caller.token, referral_id))
        if filters is None:
            needs = task.routing.needs if task.routing else ()
            filters = ServiceFilters(needs=tuple(needs))
        search = self._api.find_services(caller.token, filters.params(referral_id))
        if task.status in WORKING:  # the person, to share
            bundle, request = await asyncio.gather(
                search, self._api.person(caller.token, referral_id)
            )
        else:
            bundle, request = await search, None
        person = person_view(request) if request else None
        return FindPage(task, filters, services_found(bundle), person)

    async def refer(self, caller: Caller, command: ReferOnward) -> None:
        """The router refuses (with the field) anything it will not send; the consent's time
        is now, when the worker ticks that the person agreed."""
        await self._api.refer_onward(
            caller.token, command.referral_id, command.body(datetime.now(UTC))
        )
