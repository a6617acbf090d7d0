"""Intake's share of an erasure (hub_common.privacy.data_protection): the SQL that lets the person go.

Intake keeps each referral as received (the ServiceRequest with the person contained) only to
recognise a resend and to link a person's referrals into one episode. On erasure those rows go,
found by referral id or by episode id (a later referral of the same person joined the episode).
Before they go, `identifiers` reads from them what recognises the person's records on the
topics (hub_common.privacy.topic_erasure).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.refs import contained
from hub_common.messaging.inbox import first_delivery
from hub_intake.adapters import orm

r = orm.referrals


def _theirs(referral_ids: Iterable[str], episode_ids: Iterable[str]) -> Any:
    return or_(r.c.referral_id.in_(list(referral_ids)), r.c.episode_id.in_(list(episode_ids)))


async def referrals_of(
    session: AsyncSession, referral_ids: Iterable[str], episode_ids: Iterable[str]
) -> list[tuple[str, dict[str, Any]]]:
    """The person's referrals as received: (referral id, ServiceRequest)."""
    rows = await session.execute(
        select(r.c.referral_id, r.c.service_request).where(_theirs(referral_ids, episode_ids))
    )
    return [(row.referral_id, row.service_request) for row in rows]


def identifiers(request: dict[str, Any]) -> list[str]:
    """What names the person in a ServiceRequest: NHS number, family name, telephone numbers,
    birth date and address lines (the matching reduces each to letters and digits)."""
    patient = contained(request, request.get("subject", {}).get("reference")) or {}
    found = [str(i.get("value", "")) for i in patient.get("identifier", [])]
    found += [str(n.get("family", "")) for n in patient.get("name", [])]
    found += [str(t.get("value", "")) for t in patient.get("telecom", [])]
    found += [str(patient.get("birthDate", ""))]
    for address in patient.get("address", []):
        found += [str(line) for line in address.get("line", [])]
    return [text for text in found if text]


async def erase(
    session: AsyncSession, referral_ids: Iterable[str], episode_ids: Iterable[str]
) -> int:
    """Delete the person's referrals as received; how many."""
    result = await session.execute(delete(r).where(_theirs(referral_ids, episode_ids)))
    return int(result.rowcount)  # type: ignore[attr-defined]


class ErasureRepository:
    """The person's referrals as received, and the data protection requests applied, in one
    transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def referrals_of(
        self, referral_ids: Iterable[str], episode_ids: Iterable[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        return await referrals_of(self._session, referral_ids, episode_ids)

    async def erase(self, referral_ids: Iterable[str], episode_ids: Iterable[str]) -> int:
        return await erase(self._session, referral_ids, episode_ids)

    async def first_delivery(self, event_id: str) -> bool:
        """Record a request's event as applied; False when it already was (a redelivery)."""
        return await first_delivery(
            self._session, orm.processed_events, "intake.data-protection", event_id
        )
