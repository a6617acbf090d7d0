"""Tracking use cases: record every referral, Task version and rejection the hub publishes, and
stage the referrer's notifications in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Integer, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.refs import resource_version
from hub_common.messaging.inbox import first_deliveries, first_delivery
from hub_common.region.service_area import borough_of
from hub_notifier.adapters import orm
from hub_notifier.adapters.data_protection_store import restricted_among
from hub_notifier.adapters.person_links import (
    accepted_in_open_episode,
    link_referrals,
    lock_linking,
)
from hub_notifier.adapters.referral_locks import lock_referrals
from hub_notifier.adapters.rejection_task import rejection_task
from hub_notifier.adapters.requester import (
    postcode_of,
    referrer_email,
    rejection_requester,
    requester_key,
    service_request_requester,
    source_of,
)
from hub_notifier.adapters.task_facts import TaskFacts, outcomes_of, task_facts
from hub_notifier.adapters.task_history import first_contact_versions
from hub_notifier.domain.message_back import (
    CONTACT_STEPS,
    Moment,
    for_gp_practice,
    message_back,
    moment_of,
)
from hub_notifier.domain.person_match import demographics_of
from hub_notifier.service_layer.notifying import Announcer, Change

log = logging.getLogger(__name__)


async def _keep_later_versions(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """A referral its referrer amended or cancelled (a BaRS update: the same ServiceRequest,
    `meta.versionId` higher) replaces the one kept, never an older version a later one."""
    sr = orm.service_requests
    for row in rows:
        version = resource_version(row["resource"])
        if version <= 1:
            continue
        held = func.coalesce(sr.c.resource["meta"]["versionId"].astext.cast(Integer), 1)
        await session.execute(
            update(sr)
            .where(sr.c.referral_id == row["referral_id"], held < version)
            .values(resource=row["resource"], borough=row["borough"])
        )


async def _unrestricted(session: AsyncSession, changes: list[Change]) -> list[Change]:
    """The changes to announce: none about a person whose processing is restricted (their
    Task versions are still kept; hub_common.privacy.data_protection)."""
    restricted = await restricted_among(session, {change.referral_id for change in changes})
    return [change for change in changes if change.referral_id not in restricted]


class TrackingService:
    """Keeps the current Task and its full timeline per referral. Every method is idempotent:
    a redelivered event is recognised by its event id, a repeated Task version by its number,
    and neither notifies anyone twice."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        announcer: Announcer,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer
        self._on_commit = on_commit

    async def record_request(self, request: dict[str, Any], event_id: str) -> None:
        await self.record_requests([(request, event_id)])

    async def record_requests(self, requests: Sequence[tuple[dict[str, Any], str]]) -> None:
        """Keep accepted referrals (for reads and e-mail addresses), a batch per transaction,
        and e-mail the referrer the changes recorded before their referral was."""
        rows: dict[str, dict[str, Any]] = {}
        for request, event_id in requests:
            postcode = postcode_of(request)
            rows[event_id] = {
                "referral_id": str(request["id"]),
                "source": source_of(request),
                "requester_org": requester_key(service_request_requester(request)),
                "resource": request,
                "borough": borough_of(postcode) if postcode else None,
            }
        staged = 0
        async with self._sessions.begin() as session:
            await lock_referrals(session, [row["referral_id"] for row in rows.values()])
            fresh = await first_deliveries(
                session, orm.processed_events, "notifier.requested", list(rows)
            )
            if fresh:
                sr = orm.service_requests
                inserted = set(
                    (
                        await session.execute(
                            insert(sr)
                            .on_conflict_do_nothing(index_elements=["referral_id"])
                            .returning(sr.c.referral_id),
                            [row for event_id, row in rows.items() if event_id in fresh],
                        )
                    ).scalars()
                )
                await _keep_later_versions(
                    session, [row for event_id, row in rows.items() if event_id in fresh]
                )
                await self._link_people(
                    session,
                    [row for row in rows.values() if row["referral_id"] in inserted],
                )
                addresses = {
                    str(row["referral_id"]): (email, str(row["source"]))
                    for row in rows.values()
                    if row["referral_id"] in inserted and (email := referrer_email(row["resource"]))
                }
                staged = await self._announcer.announce_missed_emails(
                    session,
                    await _unrestricted(
                        session, await self._recorded_without_address(session, addresses)
                    ),
                )
        if staged:
            self._on_commit()
            log.info("%d e-mails staged for changes recorded before their referral", staged)

    async def _link_people(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        """Link each new referral to its person (the same person from several agencies)."""
        if not rows:
            return
        await lock_linking(session)
        reviews = await link_referrals(
            session, [(row["referral_id"], demographics_of(row["resource"])) for row in rows]
        )
        if reviews:
            log.info("%d possible same-person pairs for a coordinator to review", reviews)

    async def record_task(
        self, task: dict[str, Any], event_id: str, traceparent: str | None = None
    ) -> None:
        await self.record_tasks([(task, event_id, traceparent)])

    async def record_tasks(self, tasks: Sequence[tuple[dict[str, Any], str, str | None]]) -> None:
        """Keep every version in the timeline; the current row only moves forward; each new
        version is announced to the referrer. A batch is one transaction, and its statements
        each cover the whole batch; a bad snapshot raises ValueError before anything is
        written (the caller then goes one by one, to set only that one aside)."""
        facts = [(task_facts(task), task, event_id, trace) for task, event_id, trace in tasks]
        async with self._sessions.begin() as session:
            # Before anything else: see referral_locks.py (a ServiceRequest being recorded).
            await lock_referrals(session, [fact.referral_id for fact, *_ in facts])
            fresh = await first_deliveries(
                session, orm.processed_events, "notifier.tasks", [f[2] for f in facts]
            )
            # One entry per Task version, not per event: a version published again under a new
            # event id (re-produced by hand or from a replay, or by a router restored from a
            # backup) is the same change, and may land in the same batch as the first.
            first_seen: dict[tuple[str, int], tuple[TaskFacts, dict[str, Any], str | None]] = {}
            for fact, task, event_id, trace in facts:
                if event_id in fresh:
                    first_seen.setdefault((fact.referral_id, fact.version), (fact, task, trace))
            # A version already recorded (republished) was announced already.
            new = await self._keep_versions(
                session, [(fact, task) for fact, task, _ in first_seen.values()]
            )
            kept = [
                (fact, trace) for version, (fact, _, trace) in first_seen.items() if version in new
            ]
            requests = await self._request_facts(session, {fact.referral_id for fact, _ in kept})
            # The person took up support with the referral's first version at a contact step.
            first_contacts = await first_contact_versions(
                session,
                {fact.referral_id for fact, _ in kept if fact.business_status in CONTACT_STEPS},
            )
            # The episode is the person's open referral: a practice whose open referral of
            # this person was taken up already heard of the acceptance (person_links.py).
            heard = await accepted_in_open_episode(
                session,
                {
                    fact.referral_id: fact.requester_org
                    for fact, _ in kept
                    if first_contacts.get(fact.referral_id) == fact.version
                },
                CONTACT_STEPS,
            )
            changes = []
            for fact, trace in kept:
                email_to, source = requests.get(fact.referral_id, (None, None))
                if fact.source == "unknown" and source:
                    fact = replace(fact, source=source)
                first_contact = (
                    first_contacts.get(fact.referral_id) == fact.version
                    and fact.referral_id not in heard
                )
                task = first_seen[(fact.referral_id, fact.version)][1]
                changes.append(self._change(fact, email_to, trace, first_contact, task))
            staged = await self._announcer.announce_all(
                session, await _unrestricted(session, changes)
            )
        if staged:
            self._on_commit()
        log.info("%d Task versions recorded: %d notifications", len(changes), staged)

    async def record_rejection(
        self, event: dict[str, Any], event_id: str, traceparent: str | None = None
    ) -> None:
        """Keep the rejection, show it as a rejected Task, and tell its referrer."""
        # Older rejected events may lack an id: the event id then names the rejection.
        event = {**event, "rejectionId": event.get("rejectionId") or event_id}
        requester = rejection_requester(event)
        task = rejection_task(event, requester)
        # The source comes from the event: a message too broken to carry a reference (an
        # unparseable body) still came from a source, whose status topic tells its sender.
        facts = replace(task_facts(task), source=str(event["source"]))
        contact = event.get("referrerContact") or {}
        async with self._sessions.begin() as session:
            if not await first_delivery(
                session, orm.processed_events, "notifier.rejected", event_id
            ):
                return
            inserted = await session.scalar(
                insert(orm.rejections)
                .values(
                    rejection_id=facts.referral_id, source=str(event.get("source")), event=event
                )
                .on_conflict_do_nothing(index_elements=["rejection_id"])
                .returning(orm.rejections.c.rejection_id)
            )
            if inserted is None:
                return  # the same rejection, published again
            await self._keep_versions(session, [(facts, task)])
            email = contact.get("email")
            staged = await self._announcer.announce(
                session, self._change(facts, str(email) if email else None, traceparent)
            )
        if staged:
            self._on_commit()
        log.info("rejection %s from %s: %d notifications", facts.referral_id, facts.source, staged)

    async def _keep_versions(
        self, session: AsyncSession, versions: Sequence[tuple[TaskFacts, dict[str, Any]]]
    ) -> set[tuple[str, int]]:
        """Record Task versions; returns those not recorded before, as (referral id, version)."""
        unique = {(facts.referral_id, facts.version): (facts, task) for facts, task in versions}
        if not unique:
            return set()
        h = orm.task_history
        new = {
            (row.referral_id, row.version)
            for row in await session.execute(
                insert(h)
                .on_conflict_do_nothing(index_elements=["referral_id", "version"])
                .returning(h.c.referral_id, h.c.version),
                [
                    {"referral_id": rid, "version": version, "task": task}
                    for (rid, version), (_, task) in unique.items()
                ],
            )
        }
        # The current row moves forward only, to the newest version of each referral (one row
        # per referral: one INSERT may not update the same row twice).
        newest: dict[str, TaskFacts] = {}
        for key in new:
            facts = unique[key][0]
            if facts.referral_id not in newest or newest[facts.referral_id].version < facts.version:
                newest[facts.referral_id] = facts
        if newest:
            upsert = insert(orm.tasks)
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=["referral_id"],
                    set_={
                        name: upsert.excluded[name]
                        for name in (
                            "version",
                            "status",
                            "business_status",
                            "requester_org",
                            "task",
                            "last_updated",
                        )
                    },
                    where=orm.tasks.c.version < upsert.excluded.version,
                ),
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
        return new

    async def _recorded_without_address(
        self, session: AsyncSession, addresses: dict[str, tuple[str, str]]
    ) -> list[Change]:
        """The changes already recorded of referrals whose ServiceRequest (with the referrer's
        address and source) is being recorded now, each referral's in version order.

        Under the referral's lock, every version recorded so far was recorded before its
        ServiceRequest, so none was e-mailed; every later one finds the address itself.
        """
        if not addresses:
            return []
        h = orm.task_history
        rows = await session.execute(
            select(h.c.referral_id, h.c.task)
            .where(h.c.referral_id.in_(sorted(addresses)))
            .order_by(h.c.referral_id, h.c.version)
        )
        changes = []
        contacted: set[str] = set()  # referrals whose first contact came earlier in the list
        for row in rows:
            email_to, source = addresses[row.referral_id]
            facts = task_facts(row.task)
            if facts.source == "unknown":
                facts = replace(facts, source=source)
            first_contact = (
                facts.business_status in CONTACT_STEPS and facts.referral_id not in contacted
            )
            if first_contact:
                contacted.add(facts.referral_id)
            changes.append(self._change(facts, email_to, None, first_contact, row.task))
        return changes

    async def _request_facts(
        self, session: AsyncSession, referral_ids: set[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        """The referrer's e-mail address and the source, from the ServiceRequest when known.

        A Task can be processed before its ServiceRequest (two topics, no order between them):
        then there is no address yet, and its e-mail is staged when the ServiceRequest is
        recorded (both hold the referral's lock, so neither misses the other).
        """
        if not referral_ids:
            return {}
        sr = orm.service_requests
        rows = await session.execute(
            select(sr.c.referral_id, sr.c.resource, sr.c.source).where(
                sr.c.referral_id.in_(sorted(referral_ids))
            )
        )
        return {row.referral_id: (referrer_email(row.resource), row.source) for row in rows}

    @staticmethod
    def _change(
        facts: TaskFacts,
        email_to: str | None,
        traceparent: str | None,
        first_contact: bool = False,
        task: dict[str, Any] | None = None,
    ) -> Change:
        """The change to announce; the message back is the GP practice's alone."""
        gp = for_gp_practice(facts.source, facts.requester_org)
        # The Task's outcomes are read only for the closing message, the one that carries them.
        closing = moment_of(facts.status, facts.business_status, first_contact=first_contact)
        outcomes = outcomes_of(task) if gp and task and closing is Moment.CLOSED else None
        return Change(
            referral_id=facts.referral_id,
            status=facts.status,
            business_status=facts.business_status,
            requester_org=facts.requester_org,
            source=facts.source,
            referrer_reference=facts.referrer_reference,
            message_back=(
                message_back(
                    facts.status,
                    facts.business_status,
                    first_contact=first_contact,
                    outcomes=outcomes,
                )
                if gp
                else None
            ),
            email_to=email_to,
            traceparent=traceparent,
            business_status_text=facts.business_status_text,
        )
