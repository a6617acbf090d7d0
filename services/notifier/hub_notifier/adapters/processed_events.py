"""Which events each of the notifier's consumers has applied (hub_common.messaging.inbox),
as a repository over the use case's session."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.messaging.inbox import first_deliveries
from hub_notifier.adapters import orm


class ProcessedEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Record these events as applied by `consumer`: the ids not applied before."""
        return await first_deliveries(self._session, orm.processed_events, consumer, event_ids)

    async def first_one(self, consumer: str, event_id: str) -> bool:
        """False when `consumer` applied `event_id` already (a redelivery)."""
        return bool(await self.first(consumer, [event_id]))
