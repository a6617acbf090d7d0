"""What routing a batch of new referrals needs from the database, read in three statements
for the whole batch instead of three per referral: which events are new, which referrals the
router holds already, and who holds each person's other open referral (continuity).

Kept current as the batch routes, so a repeat or a second referral of one person inside the
batch is treated as it would be one transaction later. A referral rolled back alone
(`hub_common.messaging.batch`) takes what it taught the look-ups with it (`remember`/`forget`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import any_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.messaging.inbox import first_deliveries
from hub_common.storage.db import array_parameter
from hub_router.adapters import orm
from hub_router.domain.model import ReferralToRoute
from hub_router.domain.task_status import OPEN

CONSUMER = "router.requested"
t = orm.tasks
# Array parameters: one statement text (and prepared plan) whatever the batch's size.
HELD = select(t.c.referral_id).where(t.c.referral_id == any_(array_parameter("ids")))
EPISODE_OWNERS = (
    select(t.c.episode_id, t.c.owner)
    .where(
        t.c.episode_id == any_(array_parameter("episodes")),
        t.c.owner.is_not(None),
        t.c.status.in_([status.value for status in OPEN]),
    )
    .ext(distinct_on(t.c.episode_id))
    .order_by(t.c.episode_id, t.c.updated_at.desc())
)


class BatchLookups:
    """New event ids, referrals already held, and the worker of each open episode."""

    def __init__(self, fresh: set[str], held: set[str], owners: dict[str, str]) -> None:
        self._fresh = fresh
        self._held = held
        self._owners = owners

    @classmethod
    async def load(
        cls, session: AsyncSession, routes: Sequence[ReferralToRoute], event_ids: Sequence[str]
    ) -> BatchLookups:
        """Records every event id as processed (the batch commits or rolls back whole)."""
        fresh = await first_deliveries(session, orm.processed_events, CONSUMER, event_ids)
        ids = sorted({route.referral_id for route in routes})
        held = set((await session.scalars(HELD, {"ids": ids})).all()) if ids else set()
        episodes = sorted({route.episode_id for route in routes})
        owners = (
            {
                row.episode_id: row.owner
                for row in await session.execute(EPISODE_OWNERS, {"episodes": episodes})
            }
            if episodes
            else {}
        )
        return cls(fresh, held, owners)

    def is_new(self, event_id: str, referral_id: str) -> bool:
        """True the first time a new event about a referral not yet held is asked about."""
        if event_id not in self._fresh or referral_id in self._held:
            return False
        self._fresh.discard(event_id)
        self._held.add(referral_id)
        return True

    def continuity_worker(self, route: ReferralToRoute) -> str | None:
        return self._owners.get(route.episode_id)

    def offered(self, episode_id: str, owner: str | None) -> None:
        """A referral of this episode was just offered to `owner` (the latest holder)."""
        if owner is not None:
            self._owners[episode_id] = owner

    def remember(self) -> tuple[set[str], set[str], dict[str, str]]:
        return set(self._fresh), set(self._held), dict(self._owners)

    def forget(self, mark: tuple[set[str], set[str], dict[str, str]]) -> None:
        self._fresh, self._held, self._owners = (set(mark[0]), set(mark[1]), dict(mark[2]))
