"""Linking each recorded referral to its person, inside the transaction that records it.

Candidates are found through the indexed demographics (the same NHS number; the same
postcode and family name; or the same birth date and one more field: a typo in one still meets
the others; `may_match` in domain/person_match.py says which), each is
scored by the pure matching (domain/person_match.py), and the referral joins the person of
every certain match (merging people where it links two), or starts its own person. Uncertain
pairs become reviews for a coordinator. A batch of referrals is read in three statements and
written in three or so more, whatever its size: linking one referral at a time cost several
round trips each (16 ms a referral under load, against 0.7 ms to record it). One linking transaction at a time (a transaction-level advisory lock), so two
referrals of one person recorded at once by two consumers still meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnClause,
    Date,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.task_status import CLOSED
from hub_common.storage.batch_insert import BatchTable, insert_batch
from hub_common.storage.db import array_parameter
from hub_notifier.adapters import orm
from hub_notifier.domain.person_match import (
    Demographics,
    Match,
    Verdict,
    compare,
    initials,
    may_match,
)

p = orm.person_records
reviews = orm.person_reviews
# Each new referral's person in one statement per batch (an executemany cost one per row).
NEW_PERSON_RECORDS = BatchTable(
    p,
    (
        "referral_id",
        "person_id",
        "link_basis",
        "nhs_number",
        "birth_date",
        "family",
        "given",
        "postcode",
        "phone",
    ),
    on_conflict="ON CONFLICT (referral_id) DO NOTHING",
)

LINKING_LOCK = 0x4E0716_0001
"""One key: linking (and a coordinator's decision) runs one transaction at a time."""
MAX_CANDIDATES = 500
"""Blocking keeps a person's candidates to those sharing a field; this bounds a crowded one
(a care home's postcode)."""
CLOSED_STATUSES = tuple(sorted(CLOSED))
"""Task statuses that end a referral: the others (or no Task yet) are open."""


@dataclass
class _Record:
    """A referral's person as the batch sees it (its person id moves when people merge)."""

    referral_id: str
    person_id: str
    person: Demographics


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


def _blocks(person: Demographics) -> list[tuple[str, Any]]:
    """The keys a candidate must share one of: NHS number, birth date, postcode + family."""
    keys: list[tuple[str, Any]] = []
    if person.nhs_number:
        keys.append(("nhs", person.nhs_number))
    if person.birth_date:
        keys.append(("born", person.birth_date))
    if person.postcode and person.family:
        keys.append(("address", (person.postcode, person.family)))
    return keys


async def lock_linking(session: AsyncSession) -> None:
    await session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": LINKING_LOCK})


async def merge_people(session: AsyncSession, keep: str, others: set[str]) -> None:
    """The people `others` become `keep`."""
    if others - {keep}:
        await session.execute(
            update(p).where(p.c.person_id.in_(sorted(others - {keep}))).values(person_id=keep)
        )


def _candidate_people() -> Select[Any]:
    """Every referral of the people of the candidates of a batch's people (`may_match`, in
    SQL), at most MAX_CANDIDATES people a referral; one prepared statement whatever the batch.

    Each block is its own index look-up, so none reads more than its own few rows: the NHS
    numbers; the postcode and family name pairs; and the birth dates, read from the index
    alone (ix_person_records_born carries the fields the second condition looks at), keeping
    those that share a name's initial, the postcode or the phone, and no NHS number when the
    new person has one. By birth date alone a million referrals made 35 candidates a person,
    each a heap read and a score under the linking lock (75 ms a batch of 50, against 2 ms
    with no history)."""
    by_nhs, by_address, by_birth = p.alias("by_nhs"), p.alias("by_address"), p.alias("by_birth")
    nhs = select(by_nhs.c.person_id).where(
        by_nhs.c.nhs_number == any_(array_parameter("nhs_numbers"))
    )
    address = (
        func.unnest(array_parameter("postcodes"), array_parameter("families"))
        .table_valued("postcode", "family")
        .render_derived("address")
    )
    at_address = select(by_address.c.person_id).select_from(
        address.join(
            by_address,
            and_(
                by_address.c.postcode == address.c.postcode,
                by_address.c.family == address.c.family,
            ),
        )
    )
    born = (
        func.unnest(
            array_parameter("birth_dates", Date),
            array_parameter("holds_nhs", Boolean),
            array_parameter("first_initials"),
            array_parameter("second_initials"),
            array_parameter("born_postcodes"),
            array_parameter("born_phones"),
        )
        .table_valued("birth_date", "holds_nhs", "first", "second", "postcode", "phone")
        .render_derived("born")
    )
    letters = (born.c.first, born.c.second)
    # Written out, not bound: the first letter, of the first given name.
    one: ColumnClause[int] = literal_column("1", Integer)
    born_alike = select(by_birth.c.person_id).select_from(
        born.join(
            by_birth,
            and_(
                by_birth.c.birth_date == born.c.birth_date,
                or_(~born.c.holds_nhs, by_birth.c.nhs_number.is_(None)),
                or_(
                    func.left(by_birth.c.family, one).in_(letters),
                    func.left(by_birth.c.given[one], one).in_(letters),
                    by_birth.c.postcode == born.c.postcode,
                    by_birth.c.phone == born.c.phone,
                ),
            ),
        )
    )
    found = union(nhs, at_address, born_alike).subquery("found")
    wanted = select(found.c.person_id).limit(bindparam("most", type_=Integer))
    return select(p).where(p.c.person_id.in_(wanted))


CANDIDATE_PEOPLE = _candidate_people()


def candidate_keys(people: Sequence[Demographics]) -> dict[str, Any]:
    """CANDIDATE_PEOPLE's parameters for these people (an empty field matches nothing)."""
    addresses = sorted({(d.postcode, d.family) for d in people if d.postcode and d.family})
    born = [d for d in people if d.birth_date]
    letters: list[list[str | None]] = [[*sorted(initials(d)), None, None] for d in born]
    return {
        "nhs_numbers": sorted({d.nhs_number for d in people if d.nhs_number}),
        "postcodes": [postcode for postcode, _ in addresses],
        "families": [family for _, family in addresses],
        "birth_dates": [d.birth_date for d in born],
        "holds_nhs": [bool(d.nhs_number) for d in born],
        "first_initials": [pair[0] for pair in letters],
        "second_initials": [pair[1] for pair in letters],
        "born_postcodes": [d.postcode or None for d in born],
        "born_phones": [d.phone or None for d in born],
        "most": MAX_CANDIDATES * len(people),
    }


class _Batch:
    """Everything linking a batch needs, read in three statements, then decided in memory:
    the candidates of every new referral, every referral of their people (for NHS numbers),
    and the pairs coordinators split between those people."""

    def __init__(self, records: list[_Record], splits: list[tuple[str, str]]) -> None:
        self.records = {record.referral_id: record for record in records}
        self.by_block: dict[tuple[str, Any], list[_Record]] = {}
        for record in records:
            self._index(record)
        self.splits = splits  # referral id pairs
        self.merges: list[tuple[str, set[str]]] = []

    def _index(self, record: _Record) -> None:
        for key in _blocks(record.person):
            self.by_block.setdefault(key, []).append(record)

    @classmethod
    async def load(cls, session: AsyncSession, people: list[Demographics]) -> _Batch:
        if not people:
            return cls([], [])
        rows = (await session.execute(CANDIDATE_PEOPLE, candidate_keys(people))).all()
        records = [_Record(r.referral_id, r.person_id, _row_demographics(r)) for r in rows]
        ids = [record.referral_id for record in records]
        splits = (
            [
                (r.referral_id, r.other_referral_id)
                for r in await session.execute(
                    select(reviews.c.referral_id, reviews.c.other_referral_id).where(
                        reviews.c.status == "split",
                        or_(reviews.c.referral_id.in_(ids), reviews.c.other_referral_id.in_(ids)),
                    )
                )
            ]
            if ids
            else []
        )
        return cls(records, splits)

    def candidates(self, person: Demographics) -> list[_Record]:
        seen: dict[str, _Record] = {}
        for key in _blocks(person):
            for record in self.by_block.get(key, ()):
                if may_match(person, record.person):  # as CANDIDATE_PEOPLE chose them
                    seen.setdefault(record.referral_id, record)
        return list(seen.values())

    def nhs_numbers(self, person_id: str) -> set[str]:
        return {
            r.person.nhs_number
            for r in self.records.values()
            if r.person_id == person_id and r.person.nhs_number
        }

    def split_apart(self, these: set[str], those: set[str]) -> bool:
        """Whether a coordinator split a pair with one referral in people `these`, one in
        `those`."""
        for a, b in self.splits:
            people = {
                self.records[a].person_id if a in self.records else None,
                self.records[b].person_id if b in self.records else None,
            }
            if people & these and people & those:
                return True
        return False

    def compatible(self, nhs_number: str | None, candidates: list[str]) -> set[str]:
        """The people a referral may join, strongest first: never two NHS numbers in one
        person, never two people a coordinator split."""
        held: set[str] = {nhs_number} if nhs_number else set()
        joined: set[str] = set()
        for pid in candidates:
            theirs = self.nhs_numbers(pid)
            if (held and theirs - held) or len(theirs) > 1:
                continue
            if joined and self.split_apart(joined, {pid}):
                continue
            joined.add(pid)
            held |= theirs
        return joined

    def merge(self, keep: str, others: set[str]) -> None:
        if others - {keep}:
            for record in self.records.values():
                if record.person_id in others:
                    record.person_id = keep
            self.merges.append((keep, others))

    def add(self, record: _Record) -> None:
        self.records[record.referral_id] = record
        self._index(record)


def _link_one(
    batch: _Batch, referral_id: str, person: Demographics
) -> tuple[str, list[tuple[Match, str]]]:
    """How the referral was linked, and the pairs to review (match, other id); its person is
    in the batch's records."""
    best: dict[str, tuple[Match, _Record]] = {}  # per candidate person, the strongest match
    for record in batch.candidates(person):
        if record.referral_id == referral_id:
            continue
        match = compare(person, record.person)
        if match.verdict is Verdict.DISTINCT:
            continue
        held = best.get(record.person_id)
        if held is None or _strength(match) > _strength(held[0]):
            best[record.person_id] = (match, record)
    linked = batch.compatible(
        person.nhs_number,
        sorted(
            (pid for pid, (match, _) in best.items() if match.verdict is Verdict.LINK),
            key=lambda pid: _strength(best[pid][0]),
            reverse=True,
        ),
    )
    if linked:
        person_id = min(linked)  # any stable choice: the others merge into it
        batch.merge(person_id, linked)
        by_nhs = any(best[pid][0].basis == "nhs-number" for pid in linked)
        basis = "nhs-number" if by_nhs else "demographics"
    else:
        person_id, basis = referral_id, "self"
    # Certain on its own but joining people held apart, or uncertain: a coordinator decides.
    to_review = [
        (match, record.referral_id)
        for pid, (match, record) in sorted(best.items())
        if pid not in linked
    ]
    batch.add(_Record(referral_id, person_id, person))
    return basis, to_review


async def link_referrals(
    session: AsyncSession, referrals: Sequence[tuple[str, Demographics]]
) -> int:
    """Record each new referral's person, in order (a later one meets an earlier one of the
    same batch); returns how many pairs were left to a coordinator. The caller holds the
    linking lock."""
    if not referrals:
        return 0
    batch = await _Batch.load(session, [person for _, person in referrals])
    rows: list[dict[str, Any]] = []
    review_rows: list[dict[str, Any]] = []
    for referral_id, person in referrals:
        basis, to_review = _link_one(batch, referral_id, person)
        rows.append(
            {
                "referral_id": referral_id,
                "link_basis": basis,
                "nhs_number": person.nhs_number,
                "birth_date": person.birth_date,
                "family": person.family,
                "given": list(person.given),
                "postcode": person.postcode,
                "phone": person.phone,
            }
        )
        review_rows += [
            {
                "review_id": str(uuid.uuid4()),
                "referral_id": referral_id,
                "other_referral_id": other,
                "score": match.score,
                "fields": match.fields,
                "swapped_names": match.swapped_names,
                "status": "pending",
            }
            for match, other in to_review
        ]
    for keep, others in batch.merges:  # in order: each names the people as they were then
        await merge_people(session, keep, others)
    for row in rows:  # the person each new referral ended up with, after every merge
        row["person_id"] = batch.records[str(row["referral_id"])].person_id
    await insert_batch(session, [(NEW_PERSON_RECORDS, rows)])
    if review_rows:
        await session.execute(
            insert(reviews).on_conflict_do_nothing(constraint="uq_person_reviews_pair"),
            review_rows,
        )
    return len(review_rows)


def _heard_in_open_episode() -> Select[Any]:
    """Of the asked referrals (id, referring organisation), those whose person has another
    open referral from that organisation which reached a contact step: one statement a batch.

    It starts from each asked referral's own person record and walks to that person's other
    referrals, so it reads a handful of rows whatever the history. Asked one referral at a
    time, PostgreSQL could start from the organisation instead (ix_notifier_tasks_requester_org,
    then the open filter): every Task the organisation ever had, for each referral (350 rows
    and 1.2 ms each with stale statistics, growing with the organisation's history)."""
    asked = (
        func.unnest(array_parameter("referral_ids"), array_parameter("organisations"))
        .table_valued("referral_id", "organisation")
        .render_derived("asked")
    )
    me, other = p.alias("me"), p.alias("other")
    t, h = orm.tasks, orm.task_history
    step = h.c.task["businessStatus"]["coding"][0]["code"].astext
    at_contact = (
        select(h.c.referral_id)
        .where(h.c.referral_id == other.c.referral_id, step == any_(array_parameter("steps")))
        .exists()
    )
    return (
        select(asked.c.referral_id)
        .distinct()
        .select_from(
            asked.join(me, me.c.referral_id == asked.c.referral_id)
            .join(
                other,
                and_(
                    other.c.person_id == me.c.person_id,
                    other.c.referral_id != me.c.referral_id,
                ),
            )
            .join(
                t,
                and_(
                    t.c.referral_id == other.c.referral_id,
                    t.c.requester_org == asked.c.organisation,
                ),
            )
        )
        .where(t.c.status.not_in(CLOSED_STATUSES), at_contact)
    )


HEARD_IN_OPEN_EPISODE = _heard_in_open_episode()


async def accepted_in_open_episode(
    session: AsyncSession, referrals: dict[str, str], contact_steps: frozenset[str]
) -> set[str]:
    """Of these referrals (id -> referring organisation), those whose person has another
    *open* referral from the same organisation that already reached a contact step: that
    organisation heard of the episode's acceptance already."""
    if not referrals:
        return set()
    ids = sorted(referrals)
    found = await session.scalars(
        HEARD_IN_OPEN_EPISODE,
        {
            "referral_ids": ids,
            "organisations": [referrals[referral_id] for referral_id in ids],
            "steps": sorted(contact_steps),
        },
    )
    return set(found)


class PersonLinks:
    """The person links as a repository over the use case's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def link(self, referrals: Sequence[tuple[str, Demographics]]) -> int:
        """Link each new referral to its person, holding the linking lock; returns how many
        possible same-person pairs were left to a coordinator."""
        if not referrals:
            return 0
        await lock_linking(self._session)
        return await link_referrals(self._session, referrals)

    async def heard_of_acceptance(
        self, referrals: dict[str, str], contact_steps: frozenset[str]
    ) -> set[str]:
        """`accepted_in_open_episode`: whose organisation heard of the episode's acceptance."""
        return await accepted_in_open_episode(self._session, referrals, contact_steps)
