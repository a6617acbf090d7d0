"""Receiving referrals: read, record, and stage the outgoing event, all in one transaction."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common import tracing
from hub_common.audit import AuditEntry, stage_audit
from hub_common.consumer import is_transient
from hub_common.envelope import Envelope
from hub_common.fhir_systems import AGENCY_ID_SYSTEM, FHIR_JSON, ODS_SYSTEM, PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.metrics import REFERRALS_REFUSED, count_on_commit
from hub_common.outbox import OutgoingEvent, add_to_outbox
from hub_common.outcome import Issue, operation_outcome
from hub_common.topics import Topics
from hub_intake.adapters import orm
from hub_intake.adapters.fhir_mapping import (
    agency_identifier,
    derived_agency_id,
    to_service_request,
)
from hub_intake.adapters.formats.base import (
    InboundFormat,
    Reading,
    ReferrerContact,
    UnreadableMessage,
)
from hub_intake.adapters.formats.fhir_bundle import read_process_message
from hub_intake.adapters.known_referrals import (
    KnownReferrals,
    Recorded,
    find_first_episodes,
    find_recorded,
)
from hub_intake.domain.identity import person_key
from hub_intake.domain.referral import Referral
from hub_intake.domain.resend import changed_fields
from hub_intake.service_layer.commands import InboundRecord, ReceiveReferrals
from hub_intake.service_layer.referral_updates import apply_update

log = logging.getLogger(__name__)

_NO_CONTACT = ReferrerContact()


@dataclass(frozen=True)
class Outcome:
    """What happened to one referral in a message."""

    status: Literal["accepted", "duplicate", "rejected"]
    referral_id: str | None
    referrer_reference: str | None
    item: str | None
    outcome: dict[str, Any]  # FHIR OperationOutcome (warnings too, for accepted ones)
    resource: dict[str, Any] | None = None  # the ServiceRequest, accepted or resent

    @property
    def is_conflict(self) -> bool:
        """Refused for clashing with what the hub holds (HTTP 409), not for its content."""
        return self.status == "rejected" and any(
            issue.get("code") in ("conflict", "duplicate")
            for issue in self.outcome.get("issue", [])
        )


NUL_IN_JSON = b"\\u0000"


def sending_agency(source: str, reading: Reading) -> str | None:
    """`system|value` of the referring organisation, as the accepted referral would carry it."""
    if reading.referral is not None:
        identifier = agency_identifier(reading.referral)
        return f"{identifier['system']}|{identifier['value']}"
    if reading.contact.organisation:
        return f"{AGENCY_ID_SYSTEM}|{derived_agency_id(source, reading.contact.organisation)}"
    return None


def _without_nul(text: str | None) -> str | None:
    """A contact detail as JSONB can hold it (the original keeps the exact text, in base64)."""
    return text.replace("\x00", "") if text else text


def rejection_event(
    source: str,
    received_at: datetime,
    reading: Reading,
    rejection_id: str,
    sender: str | None = None,
    inbound: InboundRecord | None = None,
) -> dict[str, Any]:
    """The `referrals.rejected` value (contract): enough to tell the referrer and to replay;
    for a Kafka message, `inbound` names its topic, partition, offset and key."""
    event: dict[str, Any] = {
        "rejectionId": rejection_id,
        "source": source,
        "receivedAt": received_at.isoformat(),
        "referrerReference": reading.referrer_reference,
        "item": reading.item,
        # The credential, when the message came with one, says who sent it: not the payload.
        "agency": sender or sending_agency(source, reading),
        "referrerContact": {
            "organisation": _without_nul(reading.contact.organisation),
            "name": _without_nul(reading.contact.name),
            "email": _without_nul(reading.contact.email),
            "phone": _without_nul(reading.contact.phone),
        },
        "original": storable(reading.original),
        "outcome": operation_outcome(reading.issues),
    }
    if inbound is not None:
        event["inbound"] = inbound.as_json()
    return event


def warnings_event(
    topics: Topics, command: ReceiveReferrals, reading: Reading, referral_id: str
) -> OutgoingEvent:
    """What an HTTP sender reads in its answer, for a Kafka sender: the warnings of a referral
    accepted with some (an NHS number failing its check, say), as an OperationOutcome on its
    source's status topic, keyed by referral id. Its first issue says which referral it is."""
    reference = reading.referrer_reference
    accepted = Issue(
        "(reference)",
        f"accepted as referral {referral_id} (your reference {reference}), with these warnings",
        severity="information",
        code="informational",
    )
    return OutgoingEvent(
        topic=topics.status(command.source),
        key=referral_id,
        value=dumps(operation_outcome([accepted, *reading.issues])),
        envelope=Envelope.new("ReferralAcceptedWithWarnings", FHIR_JSON, command.traceparent),
    )


def storable(original: Any) -> Any:
    """The original document as PostgreSQL JSONB can hold it: JSONB refuses NUL characters,
    so a document containing one is kept whole as base64 of its JSON text instead."""
    encoded = dumps(original)
    if NUL_IN_JSON in encoded:
        return {"base64": base64.b64encode(encoded).decode()}
    return original


def raw_original(body: bytes) -> Any:
    """An unreadable body, kept exactly: as text when it is clean UTF-8, else as base64."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}
    return text if "\x00" not in text else {"base64": base64.b64encode(body).decode()}


MAX_REFERENCE_LENGTH = 200  # the column's width


async def _insert_together(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """A batch's new referrals in one multi-row INSERT instead of a round trip each. If one of
    them was recorded meanwhile (another replica, same source and reference), the batch is
    redone with a savepoint per message, where that referral is answered with its first id."""
    if not rows:
        return
    written = (
        await session.scalars(
            insert(orm.referrals)
            .on_conflict_do_nothing(constraint="uq_referrals_source_reference")
            .returning(orm.referrals.c.referral_id),
            rows,
        )
    ).all()
    if len(written) != len(rows):
        raise _NeedsSavepoints


class _NeedsSavepoints(Exception):
    """A message failed part-way through a batch recorded without savepoints."""


def _limit_reference(reading: Reading) -> None:
    """A reference the database cannot hold (absurdly long, or with a NUL) is refused here
    rather than by the database."""
    if reading.referrer_reference and len(reading.referrer_reference) > MAX_REFERENCE_LENGTH:
        reading.issues.append(
            Issue(
                "(reference)",
                f"the referrer's reference is longer than {MAX_REFERENCE_LENGTH} characters",
            )
        )
        reading.referrer_reference = reading.referrer_reference[:MAX_REFERENCE_LENGTH]
        reading.referral = None
    if reading.referrer_reference and "\x00" in reading.referrer_reference:
        # PostgreSQL refuses NUL in text: refuse it here, and keep the reference without it.
        reading.issues.append(
            Issue("(reference)", "the referrer's reference contains a NUL character")
        )
        reading.referrer_reference = reading.referrer_reference.replace("\x00", "")
        reading.referral = None


def with_sender(referral: Referral, agency: str) -> Referral:
    """The credential, not the payload, decides which agency a referral is from."""
    system, _, value = agency.partition("|")
    if system == ODS_SYSTEM:
        referrer = replace(referral.referrer, ods_code=value, agency_id=None)
    else:
        referrer = replace(referral.referrer, ods_code=None, agency_id=value)
    return replace(referral, referrer=referrer)


def verified_sender(command: ReceiveReferrals, referral: Referral) -> str | None:
    """Who sent a referral, when that can be trusted to be the same every time: the HTTP
    credential, or an ODS code. A name from the payload can be written two ways by the same
    organisation, so it identifies no one well enough to refuse a resend on."""
    if command.agency:
        return command.agency
    if referral.referrer.ods_code:
        return f"{ODS_SYSTEM}|{referral.referrer.ods_code}"
    return None


def submission_audit(entry: AuditEntry, result: list[Outcome] | Exception) -> AuditEntry:
    """The audit entry of one HTTP submission: the referrals it created (or resent), and what
    came of it. Refused referrals have no hub id yet; the entry still says one was sent."""
    if isinstance(result, Exception):
        return entry.about(
            (), "unreadable" if isinstance(result, UnreadableMessage) else "set-aside"
        )
    statuses = {outcome.status for outcome in result}
    word = next((s for s in ("accepted", "duplicate") if s in statuses), "rejected")
    return entry.about([o.referral_id for o in result if o.referral_id], word)


class IntakeService:
    """Turns agency messages into recorded referrals and staged `referrals.requested` events."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        formats: dict[str, InboundFormat],
        topics: Topics,
        on_commit: Any = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._formats = formats
        self._topics = topics
        self._on_commit = on_commit or (lambda: None)
        # HTTP bodies over it never arrive (the 413); Kafka lets a little more through, for
        # the record's key and headers, so a larger body is refused here, and recorded.
        self._max_message_bytes = max_message_bytes

    def knows(self, source: str) -> bool:
        return source in self._formats

    async def receive(self, command: ReceiveReferrals) -> list[Outcome]:
        """Record every referral in the message; an UnreadableMessage is recorded, then raised."""
        [result] = await self.receive_batch([command])
        if isinstance(result, Exception):
            raise result
        return result

    async def receive_batch(
        self, commands: Sequence[ReceiveReferrals]
    ) -> list[list[Outcome] | Exception]:
        """Record many messages in ONE transaction (one commit, one fsync), so that a message
        that fails rolls back alone and is set aside as a rejection. Transient failures
        (database gone) roll back the whole batch and propagate: the caller retries it, and
        nothing was half-recorded.

        The batch is first tried without savepoints: two round trips fewer per message, and
        no one-off `SAVEPOINT sa_savepoint_<n>` statements pushing the useful ones out of
        asyncpg's prepared-statement cache. Only if a message fails after it may have written
        something is the batch redone with a savepoint per message. (An unreadable message
        fails before writing anything, so it is set aside on either path.)

        The result for a message is its outcomes, or the UnreadableMessage / unexpected error
        it was set aside with.
        """
        # Even a batch of one: under a steady trickle most batches are, and one message (a
        # housing file, say) may hold many referrals, which the savepoint path looks up and
        # inserts one by one.
        try:
            return await self._receive_all(commands, savepoints=False)
        except _NeedsSavepoints:
            pass  # rolled back whole; each message gets its own savepoint this time
        return await self._receive_all(commands, savepoints=True)

    async def _receive_all(
        self, commands: Sequence[ReceiveReferrals], *, savepoints: bool
    ) -> list[list[Outcome] | Exception]:
        # Every message is read (parsed, checked, mapped) once, before any database work, so
        # what the batch must look up is looked up in two queries for all of it.
        read = [self._read_or_error(command) for command in commands]
        if not savepoints and any(
            reading.update
            for readings in read
            if isinstance(readings, list)
            for reading in readings
        ):
            # An update finds its referral by a query, which would miss one the same batch
            # adds (those are inserted at its end): take the batch with savepoints instead.
            raise _NeedsSavepoints
        results: list[list[Outcome] | Exception] = []
        async with self._sessions.begin() as session, tracing.PerMessage() as each:
            # Without savepoints nothing rolls back alone, so what the batch learns stays true
            # and its events can be staged together at the end; with them, neither holds.
            known = (
                None
                if savepoints
                else await KnownReferrals.load(
                    session,
                    [
                        reading.referral
                        for readings in read
                        if isinstance(readings, list)
                        for reading in readings
                        if reading.accepted and reading.referral is not None
                    ],
                )
            )
            staged: list[OutgoingEvent] = []
            rows: list[dict[str, Any]] = []  # accepted referrals, inserted together at the end
            for command, readings in zip(commands, read, strict=True):
                each.enter(command.traceparent)  # its log lines carry its trace id
                try:
                    async with session.begin_nested() if savepoints else contextlib.nullcontext():
                        if isinstance(readings, Exception):
                            raise readings
                        outbox: list[OutgoingEvent] = [] if savepoints else staged
                        results.append(
                            await self._record(session, command, readings, known, outbox, rows)
                        )
                        if savepoints:  # inside the savepoint: rolls back with its message
                            await add_to_outbox(session, orm.outbox, outbox)
                except UnreadableMessage as error:
                    await self._set_aside(session, command, str(error), error.field)
                    results.append(error)
                except Exception as error:
                    if is_transient(error):
                        raise
                    if not savepoints:
                        raise _NeedsSavepoints from error
                    await self._set_aside(
                        session,
                        command,
                        f"the hub could not process this message ({type(error).__name__}); "
                        "it is kept for an operator",
                    )
                    results.append(error)
                if command.audit is not None:
                    audit = submission_audit(command.audit, results[-1])
                    await stage_audit(session, orm.outbox, self._topics, audit)
            await _insert_together(session, rows)
            # Last, after every row they report on is written (see add_to_outbox).
            await add_to_outbox(session, orm.outbox, staged)
        self._on_commit()
        return results

    def _read_or_error(self, command: ReceiveReferrals) -> list[Reading] | Exception:
        """The message's readings, or what reading it raised (handled like a failed record)."""
        limit = self._max_message_bytes
        if limit is not None and len(command.body) > limit:
            return UnreadableMessage(
                f"the message is larger than {limit} bytes, the largest agency message the hub "
                "takes; send a large housing file as several smaller ones"
            )
        try:
            read = (
                read_process_message
                if command.process_message
                else self._formats[command.source].read
            )
            readings = read(command.body, command.received_at)
        except Exception as error:
            return error
        for reading in readings:
            _limit_reference(reading)
            if command.agency and reading.referral is not None:
                reading.referral = with_sender(reading.referral, command.agency)
        return readings

    async def _record(
        self,
        session: AsyncSession,
        command: ReceiveReferrals,
        readings: list[Reading],
        known: KnownReferrals | None,
        outbox: list[OutgoingEvent],
        rows: list[dict[str, Any]],
    ) -> list[Outcome]:
        outcomes = []
        for reading in readings:
            if reading.update is not None and not any(i.is_error for i in reading.issues):
                outcomes.append(await self._update(session, command, reading, outbox))
            elif reading.accepted:
                outcomes.append(await self._accept(session, command, reading, known, outbox, rows))
            else:
                outcomes.append(await self._reject(session, command, reading))
        return outcomes

    async def _update(
        self,
        session: AsyncSession,
        command: ReceiveReferrals,
        reading: Reading,
        outbox: list[OutgoingEvent],
    ) -> Outcome:
        """A sender's cancellation or amendment (referral_updates.py), or its refusal."""
        referral_id = await apply_update(session, self._topics, command, reading, outbox)
        if referral_id is None:
            return await self._reject(session, command, reading)
        warnings = operation_outcome([issue for issue in reading.issues if not issue.is_error])
        return Outcome("accepted", referral_id, reading.referrer_reference, reading.item, warnings)

    async def _resent(
        self,
        session: AsyncSession,
        command: ReceiveReferrals,
        reading: Reading,
        existing: Recorded,
        agency: str | None,
        warnings: dict[str, Any],
    ) -> Outcome:
        """A resend is the same referral: the same id back, nothing published again. Unless
        another organisation sent the first: one source carries many organisations (every
        housing association, every community group), and taking their clash of references
        for a resend would drop this referral and hand its sender someone else's id. Only
        verified senders are compared (see `verified_sender`): refusing a true resend would
        have its sender send the person again under a new reference."""
        if existing.sending_agency and agency and existing.sending_agency != agency:
            reading.issues.append(
                Issue(
                    "(reference)",
                    "another organisation's referral from this source has this reference"
                    " already; send the referral again with a reference of your own",
                    code="duplicate",
                )
            )
            return await self._reject(session, command, reading)
        assert reading.referral is not None
        if existing.service_request is not None:
            resent = to_service_request(
                reading.referral, existing.referral_id, existing.referral_id
            )
            if changed := changed_fields(existing.service_request, resent):
                # See hub_intake.domain.resend: a changed resend is refused, never dropped.
                reading.issues.extend(
                    Issue(
                        path,
                        f"differs from referral {existing.referral_id}, received before under "
                        "this reference; a resend cannot change a referral: tell its link "
                        "worker, or send a new referral under a new reference",
                        code="conflict",
                    )
                    for path in changed
                )
                return await self._reject(session, command, reading)
        return Outcome(
            "duplicate",
            existing.referral_id,
            reading.referral.referrer_reference,
            reading.item,
            warnings,
            existing.service_request,
        )

    async def _accept(
        self,
        session: AsyncSession,
        command: ReceiveReferrals,
        reading: Reading,
        known: KnownReferrals | None,
        outbox: list[OutgoingEvent],
        rows: list[dict[str, Any]],
    ) -> Outcome:
        """Record an accepted referral; its event joins `outbox`, for the caller to stage.
        In a batch without savepoints (`known` given) its row joins `rows` too."""
        assert reading.referral is not None
        referral = reading.referral
        warnings = operation_outcome([issue for issue in reading.issues if not issue.is_error])
        agency = verified_sender(command, referral)
        existing = (
            known.recorded_as(referral.source, referral.referrer_reference)
            if known
            else await _recorded_as(session, referral)
        )
        if existing:
            return await self._resent(session, command, reading, existing, agency, warnings)
        referral_id = str(uuid.uuid4())
        key = person_key(referral.person)
        # Link to the person's open referral from any agency, so the router keeps their worker.
        episode_id = (
            known.first_episode(key)
            if known
            else (await find_first_episodes(session, [key])).get(key)
        ) or referral_id
        service_request = to_service_request(referral, referral_id, episode_id)
        encoded = dumps(service_request)  # once: checked here, published as it is
        if NUL_IN_JSON in encoded:
            reading.issues.append(
                Issue(
                    "(message)",
                    "contains a NUL character, which the hub cannot store",
                    code="invalid",
                )
            )
            return await self._reject(session, command, reading)
        row = {
            "referral_id": referral_id,
            "source": referral.source,
            "referrer_reference": referral.referrer_reference,
            "episode_id": episode_id,
            "person_key": key,
            "received_at": command.received_at,
            "service_request": service_request,
            "sending_agency": agency,
        }
        if known is not None:
            rows.append(row)  # the batch knows it is new: written with the others at its end
            inserted: str | None = referral_id
        else:
            inserted = await session.scalar(
                insert(orm.referrals)
                .values(row)
                .on_conflict_do_nothing(constraint="uq_referrals_source_reference")
                .returning(orm.referrals.c.referral_id)
            )
        if inserted is None:
            # Another replica recorded the same reference a moment ago.
            existing = await _recorded_as(session, referral)
            assert existing is not None  # the insert met it
            return await self._resent(session, command, reading, existing, agency, warnings)
        if known:
            known.recorded(
                referral, Recorded(referral_id, agency, service_request), key, episode_id
            )
        outbox.append(
            OutgoingEvent(
                topic=self._topics.requested,
                key=referral_id,
                value=encoded,
                envelope=Envelope.new("ReferralRequested", FHIR_JSON, command.traceparent),
            )
        )
        if command.inbound is not None and reading.issues:
            outbox.append(warnings_event(self._topics, command, reading, referral_id))
        log.info("referral %s accepted from %s", referral_id, referral.source)
        return Outcome(
            "accepted",
            referral_id,
            referral.referrer_reference,
            reading.item,
            warnings,
            service_request,
        )

    async def _reject(
        self, session: AsyncSession, command: ReceiveReferrals, reading: Reading
    ) -> Outcome:
        fingerprint = hashlib.sha256(
            f"{command.source}|{reading.item}|".encode() + dumps(reading.original)
        ).hexdigest()
        rejection_id = str(uuid.uuid4())
        event = rejection_event(
            command.source,
            command.received_at,
            reading,
            rejection_id,
            command.agency,
            command.inbound,
        )
        outcome = event["outcome"]
        if command.replay_of and outcome == await self._recorded_outcome(
            session, command.replay_of
        ):
            # Refused again for the same reasons: the recorded rejection stands, and its
            # referrer is not told twice. (New reasons, as when a set-aside file is read at
            # last, are recorded and told.)
            return Outcome("rejected", None, reading.referrer_reference, reading.item, outcome)
        inserted = await session.scalar(
            insert(orm.rejections)
            .values(
                rejection_id=rejection_id,
                source=command.source,
                referrer_reference=reading.referrer_reference,
                fingerprint=fingerprint,
                received_at=command.received_at,
                event=event,
            )
            .on_conflict_do_nothing(index_elements=["fingerprint"])
            .returning(orm.rejections.c.rejection_id)
        )
        if inserted is not None:
            await add_to_outbox(
                session,
                orm.outbox,
                [
                    OutgoingEvent(
                        topic=self._topics.rejected,
                        key=f"{command.source}:{reading.referrer_reference or rejection_id}",
                        value=dumps(event),
                        envelope=Envelope.new("ReferralRejected", PLAIN_JSON, command.traceparent),
                    )
                ],
            )
            log.info(
                "referral rejected from %s with %d issues", command.source, len(reading.issues)
            )
            count_on_commit(session, REFERRALS_REFUSED.labels(source=command.source))
        return Outcome("rejected", None, reading.referrer_reference, reading.item, outcome)

    @staticmethod
    async def _recorded_outcome(session: AsyncSession, rejection_id: str) -> Any:
        event = await session.scalar(
            select(orm.rejections.c.event).where(orm.rejections.c.rejection_id == rejection_id)
        )
        return event.get("outcome") if event else None

    async def record_unprocessable(self, command: ReceiveReferrals, error_type: str) -> None:
        """Set aside a message that tripped an unexpected error, so an operator can replay it."""
        async with self._sessions.begin() as session:
            await self._set_aside(
                session,
                command,
                f"the hub could not process this message ({error_type}); it is kept for an operator",
            )
        self._on_commit()

    async def _set_aside(
        self,
        session: AsyncSession,
        command: ReceiveReferrals,
        reason: str,
        field: str | None = None,
    ) -> None:
        """Record a message that yielded no readings as one rejection holding its exact bytes;
        the issue names `field` when the reason is one part of it (`schema`, say)."""
        reading = Reading(
            referrer_reference=None,
            original=raw_original(command.body),
            contact=_NO_CONTACT,
            issues=[Issue(field or "(message)", reason, code="structure")],
        )
        async with session.begin_nested():
            await self._reject(session, command, reading)


async def _recorded_as(session: AsyncSession, referral: Referral) -> Recorded | None:
    """The referral recorded under this one's (source, referrer reference), if any."""
    pair = (referral.source, referral.referrer_reference)
    return (await find_recorded(session, [pair])).get(pair)
