"""HTTP entrypoint of the reports: the referrals a referrer or coordinator may read, as CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from hub_common.security.audit import AuditLogDep
from hub_notifier.adapters.referral_rows import COLUMNS
from hub_notifier.domain.access import Reader
from hub_notifier.domain.csv_cells import csv_record
from hub_notifier.entrypoints.fhir_http import CallerDep, ReaderDep
from hub_notifier.service_layer.reporting import ReportService

CSV_MEDIA = "text/csv; charset=utf-8"
# Excel reads a CSV without a byte order mark as the machine's legacy code page, and garbles
# every accented name: the BOM makes it read UTF-8.
BYTE_ORDER_MARK = "\ufeff"
ROWS_PER_CHUNK = 200  # one write per chunk of rows, not per row
REFERRAL_ID = COLUMNS.index("referral_id")

CSV_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "One row per referral you may read (text/csv, a spreadsheet download)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    401: {"description": "No valid credentials"},
    403: {"description": "This role reads no referrals here"},
    503: {"description": "The export could not be recorded in the audit log, so nothing is sent"},
}


def report_router(service: ReportService) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"])

    async def csv_chunks(
        reader: Reader, exported: Callable[[list[str]], Awaitable[None]]
    ) -> AsyncIterator[str]:
        # No audit, no data: each chunk's referrals are in a committed audit entry before the
        # chunk leaves (one entry per chunk keeps every entry, and its event, small).
        chunk, ids = [BYTE_ORDER_MARK + csv_record(COLUMNS)], []
        async for row in service.referral_rows(reader):
            chunk.append(csv_record(row))
            ids.append(row[REFERRAL_ID])
            if len(chunk) >= ROWS_PER_CHUNK:
                await exported(ids)
                yield "".join(chunk)
                chunk, ids = [], []
        if ids:
            await exported(ids)
        yield "".join(chunk)

    async def primed(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
        yield first
        async for chunk in rest:
            yield chunk

    @router.get("/referrals.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
    async def referrals_csv(
        reader: ReaderDep, request: Request, caller: CallerDep, audit: AuditLogDep
    ) -> StreamingResponse:
        """Every referral you may read (an agency its own, a coordinator their boroughs'),
        oldest first, for a spreadsheet. A cell a spreadsheet would run as a formula (starting
        with = + - @, tab or carriage return) is prefixed with a single quote."""

        async def exported(ids: list[str]) -> None:
            await audit.read(request, caller, "ServiceRequest", ids, action="export")

        # The first chunk is made (and audited) before answering, so an audit log that cannot
        # be written is a 503, not a 200 cut short. A failure later ends the download early.
        chunks = csv_chunks(reader, exported)
        first = await anext(chunks)
        return StreamingResponse(
            primed(first, chunks),
            media_type=CSV_MEDIA,
            headers={
                "Content-Disposition": 'attachment; filename="referrals.csv"',
                "Cache-Control": "no-store",  # personal data: never kept by a cache
            },
        )

    return router
