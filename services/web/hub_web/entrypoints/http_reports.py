"""Report downloads: the notifier's referrals CSV, streamed through with the person's token.

The notifier applies its access rules (an agency its own referrals, a coordinator their
boroughs') and escapes every cell a spreadsheet would run as a formula; this app adds nothing
and keeps nothing, it only relays the bytes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from hub_web.entrypoints.sessions import WebSession, viewer
from hub_web.service_layer.ports import HubApiPort

Reader = Annotated[WebSession, Depends(viewer("agency", "coordinator"))]


def report_router(api: HubApiPort) -> APIRouter:
    router = APIRouter(prefix="/reports")

    @router.get("/referrals.csv", response_class=StreamingResponse)
    async def referrals_csv(session: Reader) -> StreamingResponse:
        """Every referral you may see, as a spreadsheet download."""
        return StreamingResponse(
            await api.referrals_csv(session.caller.token),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="referrals.csv"'},
        )

    return router
