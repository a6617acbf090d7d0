"""Receiving referrals: read, record, and stage the outgoing event, all in one transaction.

A batch of messages is one transaction (`hub_common.messaging.batch`): every message is read first, what
the batch must look up is looked up once, and a message that fails rolls back alone and is set
aside as a rejection. Each message takes one path, whichever way the batch runs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.jsonio import dumps
from hub_common.messaging.batch import run_batch
from hub_common.messaging.topics import Topics
from hub_common.security.audit import audit_event
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import (
    InboundFormat,
    Reading,
    UnreadableMessage,
)
from hub_intake.adapters.formats.fhir_bundle import read_process_message
from hub_intake.adapters.known_referrals import Recorded
from hub_intake.adapters.unit_of_work import Sessions
from hub_intake.domain.events import ReferralRequested
from hub_intake.domain.identity import person_key
from hub_intake.domain.resend import resend_refusals
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake_events import (
    NUL_IN_JSON,
    warnings_event,
)
from hub_intake.service_layer.outcomes import Outcome, submission_audit
from hub_intake.service_layer.readings import checked_readings, verified_sender
from hub_intake.service_layer.referral_updates import apply_update
from hub_intake.service_layer.rejecting import reject, set_aside, unprocessable
from hub_intake.service_layer.unit_of_work import IntakeUnitOfWork

log = logging.getLogger(__name__)

Read = list[Reading] | Exception
"""A message's readings, or what reading it raised (handled like a failed record)."""


@dataclass(frozen=True)
class _Message:
    command: ReceiveReferrals
    read: Read


class IntakeService:
    """Turns agency messages into recorded referrals and staged `referrals.requested` events."""

    def __init__(
        self,
        sessions: Sessions,
        formats: dict[str, InboundFormat],
        topics: Topics,
        max_message_bytes: int | None = None,
        *,
        units: Callable[[Sequence[Any]], IntakeUnitOfWork] | None = None,
    ) -> None:
        self._units = units or (lambda wanted: IntakeUnitOfWork(sessions, topics, wanted))
        self._formats = formats
        self._topics = topics
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
        """Record many messages in ONE transaction (one commit, one fsync). The result for a
        message is its outcomes, or the UnreadableMessage / unexpected error it was set aside
        with. Transient failures (database gone) roll back the whole batch and propagate: the
        caller retries it, and nothing was half-recorded."""
        # Every message is read (parsed, checked, mapped) once, before any database work, so
        # what the batch must look up is looked up in two queries for all of it.
        messages = [_Message(command, self._read(command)) for command in commands]
        wanted = [
            reading.referral
            for message in messages
            if isinstance(message.read, list)
            for reading in message.read
            if reading.accepted and reading.referral is not None
        ]
        results = await run_batch(
            lambda: self._units(wanted),
            messages,
            self._record,
            self._set_aside_poison,
            traceparent=lambda message: message.command.traceparent,
        )
        return results

    def _read(self, command: ReceiveReferrals) -> Read:
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
            return checked_readings(command, read(command.body, command.received_at))
        except Exception as error:
            return error

    async def _record(self, uow: IntakeUnitOfWork, message: _Message) -> list[Outcome] | Exception:
        command, read = message.command, message.read
        result: list[Outcome] | Exception
        if isinstance(read, UnreadableMessage):  # nothing written: set aside on either path
            await set_aside(uow, command, str(read), read.field)
            result = read
        elif isinstance(read, Exception):
            raise read
        else:
            result = [await self._record_one(uow, command, reading) for reading in read]
        self._audit(uow, command, result)
        return result

    async def _record_one(
        self, uow: IntakeUnitOfWork, command: ReceiveReferrals, reading: Reading
    ) -> Outcome:
        if reading.update is not None and not any(i.is_error for i in reading.issues):
            referral_id = await apply_update(uow, command, reading)
            if referral_id is None:
                return await reject(uow, command, reading)
            return Outcome(
                "accepted",
                referral_id,
                reading.referrer_reference,
                reading.item,
                _warnings(reading),
            )
        if reading.accepted:
            return await self._accept(uow, command, reading)
        return await reject(uow, command, reading)

    async def _accept(
        self, uow: IntakeUnitOfWork, command: ReceiveReferrals, reading: Reading
    ) -> Outcome:
        """Record an accepted referral and stage its event (and its warnings, from Kafka)."""
        assert reading.referral is not None
        referral = reading.referral
        agency = verified_sender(command, referral)
        existing = uow.referrals.recorded_as(referral.source, referral.referrer_reference)
        if existing:
            return await self._resent(uow, command, reading, existing, agency)
        referral_id = str(uuid.uuid4())
        key = person_key(referral.person)
        # Link to the person's open referral from any agency, so the router keeps their worker.
        episode_id = uow.referrals.first_episode(key) or referral_id
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
            return await reject(uow, command, reading)
        uow.referrals.add(
            {
                "referral_id": referral_id,
                "source": referral.source,
                "referrer_reference": referral.referrer_reference,
                "episode_id": episode_id,
                "person_key": key,
                "received_at": command.received_at,
                "service_request": service_request,
                "sending_agency": agency,
            }
        )
        uow.stage(ReferralRequested(referral_id, encoded, command.traceparent))
        if command.inbound is not None and reading.issues:
            uow.stage(warnings_event(command, reading, referral_id))
        log.info("referral %s accepted from %s", referral_id, referral.source)
        return Outcome(
            "accepted",
            referral_id,
            referral.referrer_reference,
            reading.item,
            _warnings(reading),
            service_request,
        )

    async def _resent(
        self,
        uow: IntakeUnitOfWork,
        command: ReceiveReferrals,
        reading: Reading,
        existing: Recorded,
        agency: str | None,
    ) -> Outcome:
        """A resend is the same referral: the same id back, nothing published again; unless
        `resend_refusals` says it is another organisation's, or changes the referral."""
        assert reading.referral is not None
        resent = to_service_request(reading.referral, existing.referral_id, existing.referral_id)
        if refusals := resend_refusals(existing, agency, resent):
            reading.issues.extend(refusals)
            return await reject(uow, command, reading)
        return Outcome(
            "duplicate",
            existing.referral_id,
            reading.referral.referrer_reference,
            reading.item,
            _warnings(reading),
            existing.service_request,
        )

    async def record_unprocessable(self, command: ReceiveReferrals, error_type: str) -> None:
        """Set aside a message that tripped an unexpected error, so an operator can replay it."""
        async with (uow := self._units(())).transaction():
            await set_aside(uow, command, unprocessable(error_type))

    async def _set_aside_poison(
        self, uow: IntakeUnitOfWork, message: _Message, error: Exception
    ) -> Exception:
        """A message that failed (rolled back alone): kept as a rejection for an operator."""
        await set_aside(uow, message.command, unprocessable(type(error).__name__))
        self._audit(uow, message.command, error)
        return error

    def _audit(
        self, uow: IntakeUnitOfWork, command: ReceiveReferrals, result: list[Outcome] | Exception
    ) -> None:
        if command.audit is not None:
            uow.stage(audit_event(self._topics, submission_audit(command.audit, result)))


def _warnings(reading: Reading) -> dict[str, Any]:
    return operation_outcome([issue for issue in reading.issues if not issue.is_error])
