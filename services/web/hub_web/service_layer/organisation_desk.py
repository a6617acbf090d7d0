"""The organisation's inbox: the onward referrals a link worker sent to it, to accept or
decline with a reason, then to say whether the person came. Every call carries the
organisation's own token, so the router shows it only the referrals sent to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hub_web.domain.onward import OnwardRequestView, OnwardView, onward_request_view, onward_view
from hub_web.service_layer.ports import Caller, HubApiPort


@dataclass(frozen=True)
class OrganisationInbox:
    """New referrals first (answer-by deadline soonest), then those taken on, then the rest."""

    new: list[OnwardView]
    current: list[OnwardView]
    finished: list[OnwardView]


@dataclass(frozen=True)
class OnwardPage:
    onward: OnwardView
    request: OnwardRequestView


class OrganisationDesk:
    def __init__(self, api: HubApiPort) -> None:
        self._api = api

    async def inbox(self, caller: Caller) -> OrganisationInbox:
        views = [onward_view(task) for task in await self._api.onward_tasks(caller.token)]
        new = sorted(
            (v for v in views if v.awaiting),
            key=lambda v: (v.due_at is None, v.due_at or v.sent_at),
        )
        current = [v for v in views if v.can_record_attendance]
        finished = [v for v in views if not v.awaiting and not v.can_record_attendance]
        return OrganisationInbox(new, current, finished)

    async def referral(self, caller: Caller, onward_id: str) -> OnwardPage:
        """The onward Task and the person as shared (each read audited by the router)."""
        task, request = await asyncio.gather(
            self._api.router_task(caller.token, onward_id),
            self._api.onward_request(caller.token, onward_id),
        )
        return OnwardPage(onward_view(task), onward_request_view(request))

    async def accept(self, caller: Caller, onward_id: str) -> None:
        await self._api.accept(caller.token, onward_id)

    async def decline(self, caller: Caller, onward_id: str, reason: str) -> None:
        await self._api.decline(caller.token, onward_id, reason)

    async def record_attendance(
        self, caller: Caller, onward_id: str, attendance: str, reason: str | None
    ) -> None:
        await self._api.attendance(caller.token, onward_id, attendance, reason)
