"""Every Task version of every referral (the timeline), and the current Task of each.

A repository over the use case's session (`service_layer/unit_of_work.py`). Its methods take a
batch and cost one statement each, whatever its size: this is the notifier's hot path.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.storage.batch_insert import BatchTable, insert_batch
from hub_notifier.adapters import orm
from hub_notifier.adapters.task_facts import TaskFacts
from hub_notifier.domain.message_back import CONTACT_STEPS

h = orm.task_history
CURRENT_COLUMNS = ("version", "status", "business_status", "requester_org", "task", "last_updated")
# The current Task of each referral, moved forward only: one statement per batch (an
# executemany cost one per referral).
CURRENT_TASKS = BatchTable(
    orm.tasks,
    ("referral_id", *CURRENT_COLUMNS),
    on_conflict="ON CONFLICT (referral_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in CURRENT_COLUMNS)
    + f" WHERE {orm.tasks.fullname}.version < excluded.version",
)


class Timeline:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(
        self, versions: Sequence[tuple[TaskFacts, dict[str, Any]]]
    ) -> set[tuple[str, int]]:
        """Record Task versions; returns those not recorded before, as (referral id, version).
        The current row moves forward only, to the newest new version of each referral."""
        unique = {(facts.referral_id, facts.version): (facts, task) for facts, task in versions}
        if not unique:
            return set()
        new = {
            (row.referral_id, row.version)
            for row in await self._session.execute(
                insert(h)
                .on_conflict_do_nothing(index_elements=["referral_id", "version"])
                .returning(h.c.referral_id, h.c.version),
                [
                    {"referral_id": rid, "version": version, "task": task}
                    for (rid, version), (_, task) in unique.items()
                ],
            )
        }
        # One row per referral: one INSERT may not update the same row twice.
        newest: dict[str, TaskFacts] = {}
        for key in new:
            facts = unique[key][0]
            if facts.referral_id not in newest or newest[facts.referral_id].version < facts.version:
                newest[facts.referral_id] = facts
        await insert_batch(
            self._session,
            [
                (
                    CURRENT_TASKS,
                    [
                        {
                            "referral_id": facts.referral_id,
                            "version": facts.version,
                            "status": facts.status,
                            "business_status": facts.business_status,
                            "requester_org": facts.requester_org,
                            "task": unique[(facts.referral_id, facts.version)][1],
                            "last_updated": facts.last_updated,
                        }
                        for facts in newest.values()
                    ],
                )
            ],
        )
        return new

    async def first_contact_versions(self, referral_ids: Collection[str]) -> dict[str, int]:
        """Per referral, the first recorded version at a contact step (the person took up
        support then). Reads only the given referrals' versions, through the primary key."""
        if not referral_ids:
            return {}
        step = h.c.task["businessStatus"]["coding"][0]["code"].astext
        rows = await self._session.execute(
            select(h.c.referral_id, func.min(h.c.version))
            .where(h.c.referral_id.in_(sorted(referral_ids)), step.in_(sorted(CONTACT_STEPS)))
            .group_by(h.c.referral_id)
        )
        return {str(referral_id): int(version) for referral_id, version in rows.all()}

    async def versions_of(self, referral_ids: Collection[str]) -> list[tuple[str, dict[str, Any]]]:
        """Every recorded version of these referrals, as (referral id, Task), each referral's
        in version order."""
        if not referral_ids:
            return []
        rows = await self._session.execute(
            select(h.c.referral_id, h.c.task)
            .where(h.c.referral_id.in_(sorted(referral_ids)))
            .order_by(h.c.referral_id, h.c.version)
        )
        return [(row.referral_id, row.task) for row in rows]
