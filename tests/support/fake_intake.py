"""The intake's unit of work kept in memory, for use-case tests without PostgreSQL.

It keeps the real one's promises the use cases rely on: a batch commits whole or not at all,
a message's savepoint rolls back its own writes, new referrals are written at flush, and a
staged event reaches the outbox only with the batch's commit. `memory_changes` opens the
units of work of the other use cases (replay, data protection) on the same tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from hub_common.messaging.outbox import OutgoingEvent
from hub_common.messaging.topics import Topics
from hub_intake.adapters.known_referrals import Recorded, Referrals
from hub_intake.adapters.unit_of_work import Changes, IntakeChanges
from hub_intake.domain.identity import person_key
from hub_intake.domain.referral import Referral
from hub_intake.service_layer.unit_of_work import IntakeUnitOfWork
from tests.support.memory_uow import MemoryTransaction, copy_on_commit


@dataclass
class MemoryTables:
    """What the intake's database holds: referrals by (source, reference), rejections by
    fingerprint, and the outbox in order."""

    referrals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rejections: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[OutgoingEvent] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)  # data protection requests' event ids
    commits: int = 0


class _MemoryReferrals(Referrals):
    def __init__(self, tables: MemoryTables, wanted: Sequence[Referral]) -> None:
        pairs = {(r.source, r.referrer_reference) for r in wanted}
        keys = {person_key(r.person) for r in wanted}
        ids = {
            pair: Recorded(row["referral_id"], row["sending_agency"], row["service_request"])
            for pair, row in tables.referrals.items()
            if pair in pairs
        }
        firsts = sorted(tables.referrals.values(), key=lambda row: row["received_at"])
        episodes: dict[str, str] = {}
        for row in firsts:
            if row["person_key"] in keys:
                episodes.setdefault(row["person_key"], row["episode_id"])
        super().__init__(None, ids, episodes)
        self._tables = tables

    async def flush(self) -> None:
        rows, self._new = self._new, []
        for row in rows:
            self._tables.referrals[(row["source"], row["referrer_reference"])] = row

    async def lock(self, source: str, referrer_reference: str) -> Any:
        await self.flush()
        row = self._tables.referrals.get((source, referrer_reference))
        return SimpleNamespace(**row) if row else None

    async def change(self, referral_id: str, service_request: dict[str, Any]) -> None:
        for row in self._tables.referrals.values():
            if row["referral_id"] == referral_id:
                row["service_request"] = service_request


class _MemoryRejections:
    def __init__(self, tables: MemoryTables) -> None:
        self._tables = tables

    async def add(self, *, fingerprint: str, **row: Any) -> bool:
        if fingerprint in self._tables.rejections:
            return False
        self._tables.rejections[fingerprint] = {**row, "replayed_at": None}
        return True

    async def not_replayed(self, source: str | None = None) -> list[Any]:
        rows = sorted(self._tables.rejections.values(), key=lambda row: row["received_at"])
        return [
            SimpleNamespace(**row)
            for row in rows
            if row["replayed_at"] is None and source in (None, row["source"])
        ]

    async def mark_replayed(self, rejection_id: str, at: datetime) -> None:
        for row in self._tables.rejections.values():
            if row["rejection_id"] == rejection_id:
                row["replayed_at"] = at

    async def outcome_of(self, rejection_id: str) -> Any:
        for row in self._tables.rejections.values():
            if row["rejection_id"] == rejection_id:
                return row["event"].get("outcome")
        return None


class _MemoryErasure:
    def __init__(self, tables: MemoryTables) -> None:
        self._tables = tables

    def _theirs(self, referral_ids: Iterable[str], episode_ids: Iterable[str]) -> list[Any]:
        referrals, episodes = set(referral_ids), set(episode_ids)
        return [
            pair
            for pair, row in self._tables.referrals.items()
            if row["referral_id"] in referrals or row["episode_id"] in episodes
        ]

    async def referrals_of(
        self, referral_ids: Iterable[str], episode_ids: Iterable[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        rows = self._tables.referrals
        return [
            (rows[pair]["referral_id"], rows[pair]["service_request"])
            for pair in self._theirs(referral_ids, episode_ids)
        ]

    async def erase(self, referral_ids: Iterable[str], episode_ids: Iterable[str]) -> int:
        theirs = self._theirs(referral_ids, episode_ids)
        for pair in theirs:
            del self._tables.referrals[pair]
        return len(theirs)

    async def first_delivery(self, event_id: str) -> bool:
        if event_id in self._tables.processed:
            return False
        self._tables.processed.add(event_id)
        return True


class FakeIntakeChanges(IntakeChanges):
    """The intake's unit of work for its other use cases, on `tables`."""

    def __init__(self, tables: MemoryTables) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.rejections = _MemoryRejections(tables)  # type: ignore[assignment]
        self.erasure = _MemoryErasure(tables)  # type: ignore[assignment]


def memory_changes(store: MemoryTables) -> Changes:
    """Units of work on `store`: each commits whole (rows, then its events) or not at all."""
    return copy_on_commit(store, FakeIntakeChanges)


class FakeIntakeUnitOfWork(MemoryTransaction, IntakeUnitOfWork):
    """Works on a copy of `store`'s tables, copied back when the batch commits."""

    def __init__(
        self, store: MemoryTables, topics: Topics, wanted: Sequence[Referral] = ()
    ) -> None:
        super().__init__(None, topics, wanted)  # type: ignore[arg-type]
        self._store = store
        self.info: dict[str, object] = {}  # where metrics wait for the commit

    async def start(self) -> None:
        self.referrals = _MemoryReferrals(self.tables, self._wanted)
        self.rejections = _MemoryRejections(self.tables)  # type: ignore[assignment]

    async def flush(self) -> None:
        await self.referrals.flush()
        self.tables.outbox.extend(self.outgoing())
