"""The router applies erasure and restriction requests (hub_common.privacy.data_protection).

- erase: the person's Tasks pseudonymised, everything else about them deleted
  (adapters/data_protection_store.py); not reversible.
- restrict: their referral and episode ids recorded. A new referral of theirs is then held as
  received, without a Task (so nobody is offered it and the notifier has nothing to tell), and
  the offer sweep does not move their open offers on.
- lift: the restriction's ids deleted, and every held referral no other restriction covers is
  routed as if it had just arrived (its original event id: routing stays idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hub_common.messaging.topics import Topics
from hub_common.privacy.data_protection import DataProtectionRequest
from hub_router.adapters.service_request import referral_and_episode
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.domain.events import DataProtectionApplied
from hub_router.service_layer.routing import RoutingService

log = logging.getLogger(__name__)

Arrival = tuple[dict[str, Any], str, str | None]  # ServiceRequest, event id, traceparent


class RouterDataProtection:
    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        routing: RoutingService,
        *,
        units: Units | None = None,
    ) -> None:
        self._units = units_for(sessions, topics, units)
        self._routing = routing

    async def hold_restricted(self, arrivals: Sequence[Arrival]) -> list[Arrival]:
        """Hold the new referrals of restricted people; the others, to route."""
        subjects = {a[0].get("id"): referral_and_episode(a[0]) for a in arrivals}
        async with self._units() as uow:
            restricted = await uow.protection.restricted_among(
                [s for pair in subjects.values() for s in pair]
            )
            if not restricted:
                return list(arrivals)
            held, free = [], []
            for arrival in arrivals:
                referral_id, episode_id = subjects[arrival[0].get("id")]
                if referral_id in restricted or episode_id in restricted:
                    held.append(
                        {
                            "referral_id": referral_id,
                            "episode_id": episode_id,
                            "request": arrival[0],
                            "event_id": arrival[1],
                            "traceparent": arrival[2],
                        }
                    )
                else:
                    free.append(arrival)
            await uow.protection.hold(held)
        log.info("%d referrals held: their person's processing is restricted", len(held))
        return free

    async def apply(self, request: DataProtectionRequest, event_id: str) -> None:
        counts: dict[str, int] = {}
        if request.action == "lift" and request.restriction_id:
            async with self._units() as uow:
                await uow.protection.lift(request.restriction_id)
                released = await uow.protection.released()
            for row in released:  # each routed in its own transaction, idempotently
                await self._routing.route(row.request, row.event_id, row.traceparent)
            counts["routed"] = len(released)
        async with self._units() as uow:
            if not await uow.tasks.first_delivery("router.data-protection", event_id):
                return
            if request.action == "erase":
                counts |= await uow.protection.erase(request.referral_ids, request.episode_ids)
            elif request.action == "restrict":
                counts["restricted"] = await uow.protection.restrict(
                    request.request_id, request.subjects
                )
            else:
                await uow.protection.forget_held([row.referral_id for row in released])
            uow.record(DataProtectionApplied(request, counts))
        log.info("data protection request %s (%s) applied", request.request_id, request.action)
