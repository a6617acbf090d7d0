"""The notifier's share of erasure and restriction (hub_common.privacy.data_protection): the SQL.

The notifier is where a person is found (it links one person's referrals from several agencies,
adapters/person_links.py), where the requests are recorded (ids only), and where restrictions
silence notifications. On erasure it deletes everything it holds about the person's referrals,
as the retention sweep does at the end of their period, pending deliveries included.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir import systems as sys
from hub_common.privacy.data_protection import DataProtectionRequest
from hub_notifier.adapters import orm
from hub_notifier.adapters.retention_store import forget_referrals

p = orm.person_records
sr = orm.service_requests
requests = orm.data_protection_requests
restrictions = orm.restrictions


async def find_person(
    session: AsyncSession, *, nhs_number: str | None = None, referral_id: str | None = None
) -> tuple[list[str], list[str]]:
    """The referral ids and episode ids of one person, found by NHS number or by one of their
    referrals; with every referral linked to them as the same person. Empty: nobody."""
    if nhs_number:
        people = select(p.c.person_id).where(p.c.nhs_number == nhs_number)
    else:
        people = select(p.c.person_id).where(p.c.referral_id == referral_id)
    referral_ids = set(
        (await session.execute(select(p.c.referral_id).where(p.c.person_id.in_(people)))).scalars()
    )
    if referral_id and await session.scalar(select(sr.c.referral_id).where(
        sr.c.referral_id == referral_id
    )):  # fmt: skip
        referral_ids.add(referral_id)
    resources = (
        await session.execute(select(sr.c.resource).where(sr.c.referral_id.in_(referral_ids)))
    ).scalars()
    episodes = {episode for resource in resources if (episode := _episode(resource))}
    return sorted(referral_ids), sorted(episodes)


def _episode(resource: dict[str, Any]) -> str | None:
    for extension in resource.get("extension") or []:
        if extension.get("url") == sys.EPISODE_EXTENSION_URL:
            return str(extension.get("valueString") or "") or None
    return None


async def record_request(
    session: AsyncSession, request: DataProtectionRequest, requested_by: str
) -> None:
    await session.execute(
        insert(requests).values(
            request_id=request.request_id,
            action=request.action,
            referral_ids=list(request.referral_ids),
            episode_ids=list(request.episode_ids),
            restriction_id=request.restriction_id,
            requested_by=requested_by,
            requested_at=request.requested_at,
        )
    )


async def request_row(session: AsyncSession, request_id: str) -> Any:
    return (
        await session.execute(select(requests).where(requests.c.request_id == request_id))
    ).first()


async def mark_lifted(session: AsyncSession, restriction_id: str, at: datetime) -> bool:
    """Whether the restriction was in force (and is now marked lifted)."""
    result = await session.execute(
        update(requests)
        .where(
            requests.c.request_id == restriction_id,
            requests.c.action == "restrict",
            requests.c.lifted_at.is_(None),
        )
        .values(lifted_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_applied(session: AsyncSession, request_id: str, service: str, at: str) -> None:
    """A service has applied the request (idempotent: the same service, the same key)."""
    await session.execute(
        update(requests)
        .where(requests.c.request_id == request_id)
        .values(applied=requests.c.applied.op("||")(func.jsonb_build_object(service, at)))
    )


async def erase(
    session: AsyncSession, referral_ids: Iterable[str], episode_ids: Iterable[str]
) -> int:
    """Delete everything about the person's referrals; how many referrals."""
    ids = set(referral_ids)
    episodes = list(episode_ids)
    if episodes:  # a referral of the episode that arrived after the request was made
        in_episode = select(sr.c.referral_id).where(
            or_(
                *(
                    sr.c.resource["extension"].contains(
                        [{"url": sys.EPISODE_EXTENSION_URL, "valueString": episode}]
                    )
                    for episode in episodes
                )
            )
        )
        ids |= set((await session.execute(in_episode)).scalars())
    referrals = sorted(ids)
    await forget_referrals(session, referrals)
    d = orm.deliveries
    await session.execute(delete(d).where(d.c.referral_id.in_(referrals)))  # pending ones too
    return len(referrals)


async def restrict(session: AsyncSession, request_id: str, subjects: Iterable[str]) -> int:
    values = [{"subject_id": subject, "request_id": request_id} for subject in subjects]
    if values:
        await session.execute(insert(restrictions).on_conflict_do_nothing(), values)
    return len(values)


async def lift(session: AsyncSession, restriction_id: str) -> None:
    await session.execute(delete(restrictions).where(restrictions.c.request_id == restriction_id))


async def restricted_among(session: AsyncSession, referral_ids: Iterable[str]) -> set[str]:
    """Which of these referrals are restricted (by their own id or their episode's)."""
    wanted = sorted(set(referral_ids))
    if not wanted:
        return set()
    direct = set(
        (
            await session.execute(
                select(restrictions.c.subject_id).where(restrictions.c.subject_id.in_(wanted))
            )
        ).scalars()
    )
    rest = [r for r in wanted if r not in direct]
    if rest and await session.scalar(select(func.count()).select_from(restrictions)):
        rows = await session.execute(
            select(sr.c.referral_id, sr.c.resource).where(sr.c.referral_id.in_(rest))
        )
        episodes = {row.referral_id: _episode(row.resource) for row in rows}
        covered = set(
            (
                await session.execute(
                    select(restrictions.c.subject_id).where(
                        restrictions.c.subject_id.in_([e for e in episodes.values() if e])
                    )
                )
            ).scalars()
        )
        direct |= {r for r, e in episodes.items() if e in covered}
    return direct


class Restrictions:
    """The restrictions in force, as a repository over the use case's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def among(self, referral_ids: Iterable[str]) -> set[str]:
        """Which of these referrals are restricted (`restricted_among`)."""
        return await restricted_among(self._session, referral_ids)


class DataProtectionRecords:
    """The requests and their effects, as a repository over the use case's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_person(
        self, *, nhs_number: str | None = None, referral_id: str | None = None
    ) -> tuple[list[str], list[str]]:
        return await find_person(self._session, nhs_number=nhs_number, referral_id=referral_id)

    async def record_request(self, request: DataProtectionRequest, requested_by: str) -> None:
        await record_request(self._session, request, requested_by)

    async def request_row(self, request_id: str) -> Any:
        return await request_row(self._session, request_id)

    async def mark_lifted(self, restriction_id: str, at: datetime) -> bool:
        return await mark_lifted(self._session, restriction_id, at)

    async def record_applied(self, request_id: str, service: str, at: str) -> None:
        await record_applied(self._session, request_id, service, at)

    async def erase(self, referral_ids: Iterable[str], episode_ids: Iterable[str]) -> int:
        return await erase(self._session, referral_ids, episode_ids)

    async def restrict(self, request_id: str, subjects: Iterable[str]) -> int:
        return await restrict(self._session, request_id, subjects)

    async def lift(self, restriction_id: str) -> None:
        await lift(self._session, restriction_id)
