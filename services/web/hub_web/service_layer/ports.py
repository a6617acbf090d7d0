"""What the pages need from the hub's APIs (the real adapter is adapters/hub_api.HubApi)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from hub_common.security.auth import Principal


@dataclass(frozen=True)
class Caller:
    """The signed-in person: who they are, and the token every API call carries."""

    principal: Principal
    token: str


class HubApiPort(Protocol):
    async def router_tasks(
        self,
        token: str,
        *,
        owner: str | None = None,
        status: str | None = None,
        business_status: str | None = None,
        count: int = 500,
    ) -> list[dict[str, Any]]: ...

    async def router_task(self, token: str, task_id: str) -> dict[str, Any]: ...

    async def find_services(self, token: str, params: list[tuple[str, str]]) -> dict[str, Any]: ...

    async def accept(self, token: str, task_id: str) -> None: ...

    async def decline(self, token: str, task_id: str, reason: str) -> None: ...

    async def update_status(self, token: str, task_id: str, body: dict[str, Any]) -> None: ...

    async def onward_tasks(
        self, token: str, *, part_of: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def onward_request(self, token: str, onward_id: str) -> dict[str, Any]: ...

    async def refer_onward(
        self, token: str, referral_id: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def attendance(
        self, token: str, onward_id: str, attendance: str, reason: str | None
    ) -> None: ...

    async def waiting(self, token: str) -> list[dict[str, Any]]: ...

    async def assign(self, token: str, task_id: str, worker: str) -> None: ...

    async def workers(self, token: str) -> list[dict[str, Any]]: ...

    async def care_plan(self, token: str, task_id: str) -> dict[str, Any] | None: ...

    async def record_care_plan(
        self, token: str, task_id: str, body: dict[str, Any], version: int | None
    ) -> None: ...

    async def person(self, token: str, task_id: str) -> dict[str, Any] | None: ...

    async def alerts(self, token: str) -> list[dict[str, Any]]: ...

    async def same_person(self, token: str, referral_id: str) -> list[dict[str, Any]] | None: ...

    async def person_reviews(self, token: str) -> list[dict[str, Any]]: ...

    async def decide_person_review(self, token: str, review_id: str, decision: str) -> None: ...

    async def notifier_tasks(
        self, token: str, *, requester: str | None = None, count: int = 500
    ) -> list[dict[str, Any]]: ...

    async def notifier_task(self, token: str, task_id: str) -> dict[str, Any]: ...

    async def notifier_task_history(self, token: str, task_id: str) -> list[dict[str, Any]]: ...

    async def refused_message(self, token: str, rejection_id: str) -> dict[str, Any]: ...

    async def referrals_csv(self, token: str) -> AsyncIterator[bytes]: ...

    async def submit(
        self, token: str, source: str, body: bytes, content_type: str
    ) -> dict[str, Any]: ...

    async def ready(self) -> dict[str, bool]: ...
