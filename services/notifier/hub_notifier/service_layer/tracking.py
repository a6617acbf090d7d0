"""Tracking use cases: record every referral, Task version and rejection the hub publishes, and
stage the referrer's notifications in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from hub_common.region.service_area import borough_of
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
from hub_notifier.domain.message_back import (
    CONTACT_STEPS,
    Moment,
    for_gp_practice,
    message_back,
    moment_of,
)
from hub_notifier.domain.person_match import demographics_of
from hub_notifier.service_layer.notifying import Announcer, Change
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

log = logging.getLogger(__name__)


async def _unrestricted(unit: NotifierUnitOfWork, changes: list[Change]) -> list[Change]:
    """The changes to announce: none about a person whose processing is restricted (their
    Task versions are still kept; hub_common.privacy.data_protection)."""
    restricted = await unit.restrictions.among({change.referral_id for change in changes})
    return [change for change in changes if change.referral_id not in restricted]


class TrackingService:
    """Keeps the current Task and its full timeline per referral. Every method is idempotent:
    a redelivered event is recognised by its event id, a repeated Task version by its number,
    and neither notifies anyone twice."""

    def __init__(
        self,
        sessions: Sessions,
        announcer: Announcer,
        on_commit: Callable[[], None] = lambda: None,
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer
        self._on_commit = on_commit
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions, announcer.topics))

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
        unit = self._new_unit()
        async with unit.transaction():
            await unit.referrals.lock([row["referral_id"] for row in rows.values()])
            fresh = await unit.processed.first("notifier.requested", list(rows))
            inserted = await unit.referrals.add(
                [row for event_id, row in rows.items() if event_id in fresh]
            )
            new = [row for row in rows.values() if row["referral_id"] in inserted]
            # Link each new referral to its person (the same person from several agencies).
            reviews = await unit.linking.link(
                [(row["referral_id"], demographics_of(row["resource"])) for row in new]
            )
            if reviews:
                log.info("%d possible same-person pairs for a coordinator to review", reviews)
            addresses = {
                str(row["referral_id"]): (email, str(row["source"]))
                for row in new
                if (email := referrer_email(row["resource"]))
            }
            staged = await self._announcer.announce_missed_emails(
                unit,
                await _unrestricted(unit, await self._recorded_without_address(unit, addresses)),
            )
        if staged:
            self._on_commit()
            log.info("%d e-mails staged for changes recorded before their referral", staged)

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
        unit = self._new_unit()
        async with unit.transaction():
            # Before anything else: see referral_locks.py (a ServiceRequest being recorded).
            await unit.referrals.lock([fact.referral_id for fact, *_ in facts])
            fresh = await unit.processed.first("notifier.tasks", [f[2] for f in facts])
            # One entry per Task version, not per event: a version published again under a new
            # event id (re-produced by hand or from a replay, or by a router restored from a
            # backup) is the same change, and may land in the same batch as the first.
            first_seen: dict[tuple[str, int], tuple[TaskFacts, dict[str, Any], str | None]] = {}
            for fact, task, event_id, trace in facts:
                if event_id in fresh:
                    first_seen.setdefault((fact.referral_id, fact.version), (fact, task, trace))
            # A version already recorded (republished) was announced already.
            new = await unit.timeline.keep([(fact, task) for fact, task, _ in first_seen.values()])
            kept = [
                (fact, trace) for version, (fact, _, trace) in first_seen.items() if version in new
            ]
            # The referrer's address and the source, from the ServiceRequest when known. A Task
            # can be processed before its ServiceRequest (two topics, no order between them):
            # then there is no address yet, and its e-mail is staged when the ServiceRequest is
            # recorded (both hold the referral's lock, so neither misses the other).
            requests = await unit.referrals.contacts({fact.referral_id for fact, _ in kept})
            # The person took up support with the referral's first version at a contact step.
            first_contacts = await unit.timeline.first_contact_versions(
                {fact.referral_id for fact, _ in kept if fact.business_status in CONTACT_STEPS}
            )
            # The episode is the person's open referral: a practice whose open referral of
            # this person was taken up already heard of the acceptance (person_links.py).
            heard = await unit.linking.heard_of_acceptance(
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
            staged = await self._announcer.announce_all(unit, await _unrestricted(unit, changes))
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
        staged = 0
        unit = self._new_unit()
        async with unit.transaction():
            if not await unit.processed.first_one("notifier.rejected", event_id):
                return
            if not await unit.referrals.add_rejection(
                facts.referral_id, str(event.get("source")), event
            ):
                return  # the same rejection, published again
            await unit.timeline.keep([(facts, task)])
            email = contact.get("email")
            staged = await self._announcer.announce(
                unit, self._change(facts, str(email) if email else None, traceparent)
            )
        if staged:
            self._on_commit()
        log.info("rejection %s from %s: %d notifications", facts.referral_id, facts.source, staged)

    async def _recorded_without_address(
        self, unit: NotifierUnitOfWork, addresses: dict[str, tuple[str, str]]
    ) -> list[Change]:
        """The changes already recorded of referrals whose ServiceRequest (with the referrer's
        address and source) is being recorded now, each referral's in version order.

        Under the referral's lock, every version recorded so far was recorded before its
        ServiceRequest, so none was e-mailed; every later one finds the address itself.
        """
        changes = []
        contacted: set[str] = set()  # referrals whose first contact came earlier in the list
        for referral_id, task in await unit.timeline.versions_of(addresses):
            email_to, source = addresses[referral_id]
            facts = task_facts(task)
            if facts.source == "unknown":
                facts = replace(facts, source=source)
            first_contact = (
                facts.business_status in CONTACT_STEPS and facts.referral_id not in contacted
            )
            if first_contact:
                contacted.add(facts.referral_id)
            changes.append(self._change(facts, email_to, None, first_contact, task))
        return changes

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
