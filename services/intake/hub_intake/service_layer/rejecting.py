"""Refusing referrals: each refusal recorded once and told on `referrals.rejected`; a message
that yielded no readings (unreadable, or tripping an unexpected error) is set aside whole, its
exact bytes kept, for an operator to replay."""

from __future__ import annotations

import hashlib
import logging
import uuid

from hub_common.fhir.outcome import Issue
from hub_common.jsonio import dumps
from hub_common.observability.metrics import REFERRALS_REFUSED, count_on_commit
from hub_intake.adapters.formats.base import Reading, ReferrerContact
from hub_intake.domain.events import ReferralRejected
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake_events import raw_original, rejection_event
from hub_intake.service_layer.outcomes import Outcome
from hub_intake.service_layer.unit_of_work import IntakeUnitOfWork

log = logging.getLogger(__name__)

_NO_CONTACT = ReferrerContact()


async def reject(uow: IntakeUnitOfWork, command: ReceiveReferrals, reading: Reading) -> Outcome:
    """Record a refused referral once (by fingerprint) and stage its `referrals.rejected`
    event; a replayed message refused again for the same reasons records nothing new."""
    rejection_id = str(uuid.uuid4())
    event = rejection_event(
        command.source,
        command.received_at,
        reading,
        rejection_id,
        command.agency,
        command.inbound,
    )
    refused = Outcome("rejected", None, reading.referrer_reference, reading.item, event["outcome"])
    if command.replay_of and refused.outcome == await uow.rejections.outcome_of(command.replay_of):
        # Refused again for the same reasons: the recorded rejection stands, and its
        # referrer is not told twice. (New reasons, as when a set-aside file is read at
        # last, are recorded and told.)
        return refused
    fingerprint = hashlib.sha256(
        f"{command.source}|{reading.item}|".encode() + dumps(reading.original)
    ).hexdigest()
    if await uow.rejections.add(
        rejection_id=rejection_id,
        source=command.source,
        referrer_reference=reading.referrer_reference,
        fingerprint=fingerprint,
        received_at=command.received_at,
        event=event,
    ):
        key = f"{command.source}:{reading.referrer_reference or rejection_id}"
        uow.stage(ReferralRejected(key, event, command.traceparent))
        log.info("referral rejected from %s with %d issues", command.source, len(reading.issues))
        count_on_commit(uow.session, REFERRALS_REFUSED.labels(source=command.source))
    return refused


async def set_aside(
    uow: IntakeUnitOfWork,
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
    await reject(uow, command, reading)


def unprocessable(error_type: str) -> str:
    return f"the hub could not process this message ({error_type}); it is kept for an operator"
