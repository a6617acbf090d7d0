"""The notifier's part of a subject access export, and finding the person in the first place.

The notifier is where a person's referrals from several agencies meet (person linking,
person_links.py), so it answers which referrals are the person's: by NHS number, by
demographics (family name and birth date, the postcode to tell two people apart), or by one
of their referrals. Its own part: each ServiceRequest as tracked, every Task version, the
demographics kept for linking, each delivery sent about the referrals and every audit entry
naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.privacy.subject_access import Collector
from hub_notifier.adapters import orm
from hub_notifier.adapters.fhir_records import (
    audit_event,
    delivery_communication,
    person_record_patient,
)

p = orm.person_records
sr = orm.service_requests
h = orm.task_history
d = orm.deliveries
a = orm.audit_log


async def people_matching(
    session: AsyncSession,
    *,
    nhs_number: str | None = None,
    family: str | None = None,
    birth_date: date | None = None,
    postcode: str | None = None,
    referral_id: str | None = None,
) -> set[str]:
    """The person ids every key given agrees on (keys already normalised)."""
    query = select(p.c.person_id).distinct()
    if nhs_number:
        query = query.where(p.c.nhs_number == nhs_number)
    if family:
        query = query.where(p.c.family == family)
    if birth_date:
        query = query.where(p.c.birth_date == birth_date)
    if postcode:
        query = query.where(p.c.postcode == postcode)
    if referral_id:
        query = query.where(p.c.referral_id == referral_id)
    return set((await session.scalars(query)).all())


async def referrals_of(session: AsyncSession, people: set[str]) -> list[str]:
    rows = await session.scalars(
        select(p.c.referral_id)
        .where(p.c.person_id.in_(sorted(people)))
        .order_by(p.c.recorded_at, p.c.referral_id)
    )
    return list(rows.all())


class Subjects:
    """Finding a person's referrals, as a repository over the use case's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def people_matching(self, **keys: Any) -> set[str]:
        return await people_matching(self._session, **keys)

    async def referrals_of(self, people: set[str]) -> list[str]:
        return await referrals_of(self._session, people)


def subject_access_collector(sessions: async_sessionmaker[AsyncSession]) -> Collector:
    async def collect(referral_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = list(referral_ids)
        async with sessions() as session:
            requests = await session.scalars(
                select(sr.c.resource)
                .where(sr.c.referral_id.in_(ids))
                .order_by(sr.c.received_at, sr.c.referral_id)
            )
            found: list[dict[str, Any]] = [dict(r) for r in requests]
            versions = await session.scalars(
                select(h.c.task)
                .where(h.c.referral_id.in_(ids))
                .order_by(h.c.referral_id, h.c.version)
            )
            found += [dict(task) for task in versions]
            people = await session.execute(
                select(p).where(p.c.referral_id.in_(ids)).order_by(p.c.referral_id)
            )
            found += [person_record_patient(row) for row in people]
            deliveries = await session.execute(
                select(d).where(d.c.referral_id.in_(ids)).order_by(d.c.seq)
            )
            found += [delivery_communication(row) for row in deliveries]
            entries = await session.execute(
                select(a).where(a.c.resource_ids.overlap(ids)).order_by(a.c.at, a.c.event_id)
            )
            named = set(ids)
            found += [audit_event(row, named) for row in entries]
        return found

    return collect
