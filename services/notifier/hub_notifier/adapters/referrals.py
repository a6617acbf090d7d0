"""The referrals the notifier keeps: each accepted ServiceRequest (for reads and the referrer's
e-mail address) and each rejection, and the per-referral lock that orders their recording.

A repository over the use case's session (`service_layer/unit_of_work.py`); each method takes
the whole batch, one statement per table, so a batch costs the same round trips as one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.refs import resource_version
from hub_notifier.adapters import orm
from hub_notifier.adapters.referral_locks import lock_referrals
from hub_notifier.adapters.requester import referrer_email, source_of

sr = orm.service_requests


class Referrals:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, referral_ids: Iterable[str]) -> None:
        """Hold each referral's lock until the transaction ends (referral_locks.py): take it
        before anything else."""
        await lock_referrals(self._session, referral_ids)

    async def add(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Keep these ServiceRequest rows; returns the ids recorded for the first time.

        A referral its referrer amended or cancelled (a BaRS update: the same ServiceRequest,
        `meta.versionId` higher) replaces the one kept, never an older version a later one.
        """
        if not rows:
            return set()
        inserted = set(
            (
                await self._session.execute(
                    insert(sr)
                    .on_conflict_do_nothing(index_elements=["referral_id"])
                    .returning(sr.c.referral_id),
                    list(rows),
                )
            ).scalars()
        )
        held = func.coalesce(sr.c.resource["meta"]["versionId"].astext.cast(Integer), 1)
        for row in rows:
            version = resource_version(row["resource"])
            if version > 1:
                await self._session.execute(
                    update(sr)
                    .where(sr.c.referral_id == row["referral_id"], held < version)
                    .values(resource=row["resource"], borough=row["borough"])
                )
        return inserted

    async def contacts(
        self, referral_ids: Collection[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        """The referrer's e-mail address and the source of each referral whose ServiceRequest
        is recorded (the others are absent)."""
        if not referral_ids:
            return {}
        rows = await self._session.execute(
            select(sr.c.referral_id, sr.c.resource, sr.c.source).where(
                sr.c.referral_id.in_(sorted(referral_ids))
            )
        )
        return {row.referral_id: (referrer_email(row.resource), row.source) for row in rows}

    async def add_rejection(self, rejection_id: str, source: str, event: dict[str, Any]) -> bool:
        """Keep a rejection; False when it was kept already (the same one, published again)."""
        inserted = await self._session.scalar(
            insert(orm.rejections)
            .values(rejection_id=rejection_id, source=source, event=event)
            .on_conflict_do_nothing(index_elements=["rejection_id"])
            .returning(orm.rejections.c.rejection_id)
        )
        return inserted is not None

    async def source_of(self, referral_id: str | None) -> str:
        """The inbound source of a referral or rejection the notifier recorded ("unknown")."""
        if referral_id is None:
            return "unknown"
        rejected = await self._session.scalar(
            select(orm.rejections.c.source).where(orm.rejections.c.rejection_id == referral_id)
        )
        if rejected:
            return str(rejected)
        resource = await self._session.scalar(
            select(sr.c.resource).where(sr.c.referral_id == referral_id)
        )
        return source_of(resource) if resource else "unknown"
