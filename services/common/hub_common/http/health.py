"""Liveness and readiness endpoints: readiness tells the truth about PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

Check = Callable[[], Awaitable[bool]]


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> bool:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
            return True
        except Exception:
            return False

    return check


def health_router(checks: dict[str, Check]) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        """The process is up and serving requests."""
        return {"status": "ok"}

    @router.get("/ready")
    async def ready(response: Response) -> dict[str, object]:
        """Every dependency answers; 503 names the ones that do not."""
        results = {name: await check() for name, check in checks.items()}
        if not all(results.values()):
            response.status_code = 503
        return {"status": "ok" if all(results.values()) else "unavailable", "checks": results}

    return router
