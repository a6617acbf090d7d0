"""The web app calls the hub's APIs on a person's behalf; the audit log must still say where
the person was, so every call carries the browser's address as X-Forwarded-For."""

from __future__ import annotations

import httpx

from hub_web.adapters.hub_api import BROWSER_ADDRESS, HubApi


async def test_calls_carry_the_browser_address_and_only_when_there_is_one() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resourceType": "Task", "id": "t-1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        api = HubApi(
            client,
            intake_url="http://intake",
            router_url="http://router",
            notifier_url="http://notifier",
        )
        await api.notifier_task("token", "t-1")
        marker = BROWSER_ADDRESS.set("203.0.113.9")
        try:
            await api.notifier_task("token", "t-1")
        finally:
            BROWSER_ADDRESS.reset(marker)

    assert "x-forwarded-for" not in seen[0].headers
    assert seen[1].headers["x-forwarded-for"] == "203.0.113.9"
    assert seen[1].headers["authorization"] == "Bearer token"
