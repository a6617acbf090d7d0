"""Reports for referrers and coordinators: every referral they may read, one row each.

The same access rule as the FHIR read API is part of the query, so a report holds exactly the
referrals the caller could read one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_notifier.adapters import orm
from hub_notifier.adapters.referral_rows import referral_row
from hub_notifier.domain.access import Reader
from hub_notifier.service_layer.reading import visible_to

sr = orm.service_requests
t = orm.tasks

ROWS_PER_FETCH = 500  # rows are streamed from the database: a large report is never all in memory


class ReportService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def referral_rows(self, reader: Reader) -> AsyncIterator[tuple[str, ...]]:
        """The reader's referrals, oldest first, as report rows (adapters.referral_rows)."""
        query = (
            select(
                sr.c.referral_id,
                sr.c.received_at,
                sr.c.source,
                sr.c.resource,
                t.c.task,
                t.c.status,
                t.c.business_status,
                t.c.last_updated,
                t.c.updated_at,
            )
            .select_from(sr.outerjoin(t, t.c.referral_id == sr.c.referral_id))
            .where(visible_to(reader, sr.c.requester_org, sr.c.borough))
            .order_by(sr.c.received_at, sr.c.referral_id)
            .execution_options(yield_per=ROWS_PER_FETCH)
        )
        async with self._sessions() as session:
            result = await session.stream(query)
            async for row in result:
                yield referral_row(
                    referral_id=row.referral_id,
                    received_at=row.received_at,
                    source=row.source,
                    request=row.resource,
                    task=row.task,
                    status=row.status,
                    business_status=row.business_status,
                    last_changed=row.last_updated or row.updated_at,
                )
