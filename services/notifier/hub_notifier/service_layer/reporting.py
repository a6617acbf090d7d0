"""Reports for referrers and coordinators: every referral they may read, one row each.

The same access rule as the FHIR read API is part of the query (adapters/read_store.py), so a
report holds exactly the referrals the caller could read one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from hub_notifier.adapters.referral_rows import referral_row
from hub_notifier.domain.access import Reader
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions


class ReportService:
    def __init__(
        self, sessions: Sessions, units: Callable[[], NotifierUnitOfWork] | None = None
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions))

    async def referral_rows(self, reader: Reader) -> AsyncIterator[tuple[str, ...]]:
        """The reader's referrals, oldest first, as report rows (adapters.referral_rows)."""
        unit = self._new_unit()
        async with unit.transaction():
            async for row in unit.reads.report_rows(reader):
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
