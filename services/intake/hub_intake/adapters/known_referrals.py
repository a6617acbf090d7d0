"""The intake's referrals table as a repository for a batch: what the batch must know of the
referrals already recorded, read in two queries for the whole batch instead of two per
referral, and its new referrals, written with the batch's outbox rows in one statement when the
batch ends.

It knows which of the batch's (source, referrer reference) pairs are recorded already (a
resend is the same referral), and each of its people's first episode (so the router keeps
their worker); kept current as the batch records more, so a resend or a second referral of
one person inside the same batch is recognised as well. A message rolled back alone
(`hub_common.messaging.batch`) takes what it taught the repository with it (`remember`/`forget`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.messaging.batch import BatchConflict
from hub_common.messaging.outbox import OutgoingEvent, staged
from hub_common.storage.batch_insert import BatchTable, insert_batch
from hub_common.storage.db import array_parameter
from hub_intake.adapters import orm
from hub_intake.domain.identity import person_key
from hub_intake.domain.referral import Referral

r = orm.referrals
# One parameter holding an array, so the statement's text (and its prepared plan) is the same
# whatever the batch's size.
# Pairs joined on (source, referrer reference), the unique index's own columns: matching the
# references alone scanned the whole table, 16 ms a batch at 100,000 referrals and growing.
_PAIRS = (
    func.unnest(array_parameter("sources"), array_parameter("references"))
    .table_valued("source", "referrer_reference")
    .render_derived("pair")
)
RECORDED = select(
    r.c.source, r.c.referrer_reference, r.c.referral_id, r.c.sending_agency, r.c.service_request
).join(
    _PAIRS,
    and_(
        r.c.source == _PAIRS.c.source,
        r.c.referrer_reference == _PAIRS.c.referrer_reference,
    ),
)
# Each person's first referral, one probe of ix_referrals_person_received per person: reading
# all of a person's referrals and sorting them grew with every referral they ever had.
_KEYS = func.unnest(array_parameter("keys")).table_valued("person_key").render_derived("wanted")
_FIRST = (
    select(r.c.episode_id)
    .where(r.c.person_key == _KEYS.c.person_key)
    .order_by(r.c.received_at)
    .limit(1)
    .lateral("first")
)
FIRST_EPISODES = select(_KEYS.c.person_key, _FIRST.c.episode_id).select_from(
    _KEYS.join(_FIRST, true())
)


NEW_REFERRALS = BatchTable(
    r,
    (
        "referral_id",
        "source",
        "referrer_reference",
        "episode_id",
        "person_key",
        "received_at",
        "service_request",
        "sending_agency",
    ),
    on_conflict="ON CONFLICT ON CONSTRAINT uq_referrals_source_reference DO NOTHING",
)


class Recorded(NamedTuple):
    """A referral already recorded under a (source, referrer reference)."""

    referral_id: str
    sending_agency: str | None  # None for referrals recorded before agencies were kept
    service_request: dict[str, Any] | None = None  # as published, to compare a resend with


class Referrals:
    """Recorded referrals by (source, referrer reference), first episodes by person key, and
    the batch's new referrals until `flush` writes them."""

    def __init__(
        self,
        session: AsyncSession | None,
        ids: dict[tuple[str, str], Recorded],
        episodes: dict[str, str],
    ) -> None:
        self._session = session
        self._ids = ids
        self._episodes = episodes
        self._new: list[dict[str, Any]] = []

    @classmethod
    async def load(cls, session: AsyncSession, referrals: Sequence[Referral]) -> Referrals:
        pairs = {(referral.source, referral.referrer_reference) for referral in referrals}
        keys = {person_key(referral.person) for referral in referrals}
        return cls(
            session,
            await find_recorded(session, pairs),
            await find_first_episodes(session, keys),
        )

    def recorded_as(self, source: str, referrer_reference: str) -> Recorded | None:
        return self._ids.get((source, referrer_reference))

    def first_episode(self, key: str) -> str | None:
        return self._episodes.get(key)

    def add(self, row: dict[str, Any]) -> None:
        """A new referral (a `referrals` row), known at once, written by `flush`."""
        self._new.append(row)
        pair = (row["source"], row["referrer_reference"])
        self._ids[pair] = Recorded(
            row["referral_id"], row["sending_agency"], row["service_request"]
        )
        self._episodes.setdefault(row["person_key"], row["episode_id"])

    async def flush(self) -> None:
        """Write the new referrals (and nothing else)."""
        await self.flush_with_outbox(())

    async def flush_with_outbox(self, events: Sequence[OutgoingEvent]) -> None:
        """Write the new referrals, then stage `events` in the outbox, in ONE statement
        (`hub_common.storage.batch_insert`). If one of the referrals was recorded meanwhile
        (another replica, same source and reference), BatchConflict: the batch is taken again
        (its transaction rolled back, these outbox rows with it), and finds that referral among
        the recorded ones."""
        rows, self._new = self._new, []
        if (not rows and not events) or self._session is None:
            return
        written, _ = await insert_batch(
            self._session,
            [(NEW_REFERRALS, rows), staged(self._session, orm.outbox, events)],
        )
        if written != len(rows):
            raise BatchConflict("a referral of the batch was recorded meanwhile")

    async def lock(self, source: str, referrer_reference: str) -> Any:
        """The referral's row, locked for a change (after writing the batch's new ones, so a
        change finds a referral sent earlier in the same batch)."""
        await self.flush()
        assert self._session is not None
        return (
            await self._session.execute(
                select(r)
                .where(r.c.source == source, r.c.referrer_reference == referrer_reference)
                .with_for_update()
            )
        ).one_or_none()

    async def change(self, referral_id: str, service_request: dict[str, Any]) -> None:
        """A new version of a referral's ServiceRequest."""
        assert self._session is not None
        await self._session.execute(
            r.update().where(r.c.referral_id == referral_id).values(service_request=service_request)
        )

    def remember(self) -> tuple[int, dict[tuple[str, str], Recorded], dict[str, str]]:
        return len(self._new), dict(self._ids), dict(self._episodes)

    def forget(self, mark: tuple[int, dict[tuple[str, str], Recorded], dict[str, str]]) -> None:
        pending, self._ids, self._episodes = mark
        del self._new[pending:]


async def find_recorded(
    session: AsyncSession, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Recorded]:
    """The referrals recorded under these (source, referrer reference) pairs."""
    ordered = sorted(set(pairs))
    if not ordered:
        return {}
    rows = await session.execute(
        RECORDED,
        {
            "sources": [source for source, _ in ordered],
            "references": [reference for _, reference in ordered],
        },
    )
    return {
        (row.source, row.referrer_reference): Recorded(
            row.referral_id, row.sending_agency, row.service_request
        )
        for row in rows
    }


async def find_first_episodes(session: AsyncSession, keys: Iterable[str]) -> dict[str, str]:
    """The episode of each person's first referral, for the person keys that have one."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    rows = await session.execute(FIRST_EPISODES, {"keys": ordered})
    return {row.person_key: row.episode_id for row in rows}
