"""Linking each recorded referral to its person, inside the transaction that records it.

Candidates are found through the indexed demographics (the same NHS number, birth date,
postcode or phone: a typo in one still meets the others), each is scored by the pure matching
(domain/person_match.py), and the referral joins the person of every certain match (merging
people where it links two), or starts its own person. Uncertain pairs become reviews for a
coordinator. One linking transaction at a time (a transaction-level advisory lock), so two
referrals of one person recorded at once by two consumers still meet.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_notifier.adapters import orm
from hub_notifier.domain.person_match import Demographics, Match, Verdict, compare

p = orm.person_records
reviews = orm.person_reviews

LINKING_LOCK = 0x4E0716_0001
"""One key: linking (and a coordinator's decision) runs one transaction at a time."""
MAX_CANDIDATES = 500
"""Blocking keeps a person's candidates to those sharing a field; this bounds a crowded one
(a care home's postcode)."""
CLOSED_STATUSES = ("completed", "cancelled", "failed", "rejected", "entered-in-error")
"""Task statuses that end a referral: the others (or no Task yet) are open."""


@dataclass(frozen=True)
class Linked:
    """Where a referral went: its person, how, and the reviews it opened."""

    person_id: str
    basis: str
    reviews: int


def _row_demographics(row: Any) -> Demographics:
    return Demographics(
        nhs_number=row.nhs_number,
        birth_date=row.birth_date,
        family=row.family,
        given=tuple(row.given),
        postcode=row.postcode,
        phone=row.phone,
    )


def _strength(match: Match) -> tuple[int, float]:
    return (1 if match.verdict is Verdict.LINK else 0, match.score)


async def lock_linking(session: AsyncSession) -> None:
    await session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": LINKING_LOCK})


async def _candidates(session: AsyncSession, referral_id: str, person: Demographics) -> list[Any]:
    keys = []
    if person.nhs_number:
        keys.append(p.c.nhs_number == person.nhs_number)
    if person.birth_date:
        keys.append(p.c.birth_date == person.birth_date)
    if person.postcode:
        keys.append(p.c.postcode == person.postcode)
    if not keys:
        return []
    rows = await session.execute(
        select(p).where(or_(*keys), p.c.referral_id != referral_id).limit(MAX_CANDIDATES)
    )
    return list(rows.all())


async def _nhs_numbers(session: AsyncSession, person_ids: set[str]) -> dict[str, set[str]]:
    rows = await session.execute(
        select(p.c.person_id, p.c.nhs_number).where(
            p.c.person_id.in_(sorted(person_ids)), p.c.nhs_number.is_not(None)
        )
    )
    numbers: dict[str, set[str]] = {}
    for row in rows:
        numbers.setdefault(row.person_id, set()).add(row.nhs_number)
    return numbers


async def _split_apart(session: AsyncSession, these: set[str], those: set[str]) -> bool:
    """Whether a coordinator split a pair with one referral in people `these`, one in `those`."""
    a, b = p.alias("a"), p.alias("b")
    hit = await session.scalar(
        select(reviews.c.review_id)
        .join(a, a.c.referral_id == reviews.c.referral_id)
        .join(b, b.c.referral_id == reviews.c.other_referral_id)
        .where(
            reviews.c.status == "split",
            or_(
                a.c.person_id.in_(sorted(these)) & b.c.person_id.in_(sorted(those)),
                a.c.person_id.in_(sorted(those)) & b.c.person_id.in_(sorted(these)),
            ),
        )
        .limit(1)
    )
    return hit is not None


async def _compatible(
    session: AsyncSession, nhs_number: str | None, candidates: list[str]
) -> set[str]:
    """The people a referral may join, strongest first: never two NHS numbers in one person,
    never two people a coordinator split."""
    numbers = await _nhs_numbers(session, set(candidates)) if candidates else {}
    held: set[str] = {nhs_number} if nhs_number else set()
    joined: set[str] = set()
    for pid in candidates:
        theirs = numbers.get(pid, set())
        if (held and theirs - held) or len(theirs) > 1:
            continue
        if joined and await _split_apart(session, joined, {pid}):
            continue
        joined.add(pid)
        held |= theirs
    return joined


async def merge_people(session: AsyncSession, keep: str, others: set[str]) -> None:
    """The people `others` become `keep`."""
    if others - {keep}:
        await session.execute(
            update(p).where(p.c.person_id.in_(sorted(others - {keep}))).values(person_id=keep)
        )


async def link_referral(session: AsyncSession, referral_id: str, person: Demographics) -> Linked:
    """Record the referral's person; the caller holds the linking lock."""
    best: dict[str, tuple[Match, Any]] = {}  # per candidate person, the strongest match
    for row in await _candidates(session, referral_id, person):
        match = compare(person, _row_demographics(row))
        if match.verdict is Verdict.DISTINCT:
            continue
        held = best.get(row.person_id)
        if held is None or _strength(match) > _strength(held[0]):
            best[row.person_id] = (match, row)
    linked = await _compatible(
        session,
        person.nhs_number,
        sorted(
            (pid for pid, (match, _) in best.items() if match.verdict is Verdict.LINK),
            key=lambda pid: _strength(best[pid][0]),
            reverse=True,
        ),
    )
    for pid, (match, row) in list(best.items()):
        if match.verdict is Verdict.LINK and pid not in linked:
            # Certain on its own, but it would join people held apart: a coordinator decides.
            best[pid] = (Match(Verdict.REVIEW, match.score, match.basis, match.fields), row)
    if linked:
        person_id = min(linked)  # any stable choice: the others merge into it
        await merge_people(session, person_id, linked)
        by_nhs = any(best[pid][0].basis == "nhs-number" for pid in linked)
        basis = "nhs-number" if by_nhs else "demographics"
    else:
        person_id, basis = referral_id, "self"
    await session.execute(
        insert(p)
        .values(
            referral_id=referral_id,
            person_id=person_id,
            link_basis=basis,
            nhs_number=person.nhs_number,
            birth_date=person.birth_date,
            family=person.family,
            given=list(person.given),
            postcode=person.postcode,
            phone=person.phone,
        )
        .on_conflict_do_nothing(index_elements=["referral_id"])
    )
    opened = 0
    for pid, (match, row) in sorted(best.items()):
        if match.verdict is Verdict.REVIEW and pid not in linked:
            await session.execute(
                insert(reviews)
                .values(
                    review_id=str(uuid.uuid4()),
                    referral_id=referral_id,
                    other_referral_id=row.referral_id,
                    score=match.score,
                    fields=match.fields,
                    swapped_names=match.swapped_names,
                    status="pending",
                )
                .on_conflict_do_nothing(constraint="uq_person_reviews_pair")
            )
            opened += 1
    return Linked(person_id, basis, opened)


async def accepted_in_open_episode(
    session: AsyncSession, referrals: dict[str, str], contact_steps: frozenset[str]
) -> set[str]:
    """Of these referrals (id -> referring organisation), those whose person has another
    *open* referral from the same organisation that already reached a contact step: that
    organisation heard of the episode's acceptance already."""
    if not referrals:
        return set()
    me, other = p.alias("me"), p.alias("other")
    t, h = orm.tasks, orm.task_history
    step = h.c.task["businessStatus"]["coding"][0]["code"].astext
    found = set()
    for referral_id, organisation in sorted(referrals.items()):
        hit = await session.scalar(
            select(other.c.referral_id)
            .join(me, me.c.person_id == other.c.person_id)
            .join(t, t.c.referral_id == other.c.referral_id)
            .where(
                me.c.referral_id == referral_id,
                other.c.referral_id != referral_id,
                t.c.requester_org == organisation,
                t.c.status.not_in(CLOSED_STATUSES),
                select(h.c.referral_id)
                .where(h.c.referral_id == other.c.referral_id, step.in_(sorted(contact_steps)))
                .exists(),
            )
            .limit(1)
        )
        if hit is not None:
            found.add(referral_id)
    return found
