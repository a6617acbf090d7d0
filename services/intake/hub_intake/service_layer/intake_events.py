"""What intake publishes about a message, beside the ServiceRequest: the `referrals.rejected`
value of a refusal, and the warnings of a referral accepted from Kafka. Also how the exact
bytes of what was sent are kept (PostgreSQL JSONB refuses NUL characters)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.jsonio import dumps
from hub_intake.adapters.fhir_mapping import agency_identifier, derived_agency_id
from hub_intake.adapters.formats.base import Reading
from hub_intake.domain.events import ReferralAcceptedWithWarnings
from hub_intake.service_layer.commands import InboundRecord, ReceiveReferrals

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
    command: ReceiveReferrals, reading: Reading, referral_id: str
) -> ReferralAcceptedWithWarnings:
    """What an HTTP sender reads in its answer, for a Kafka sender: the warnings of a referral
    accepted with some (an NHS number failing its check, say), as an OperationOutcome on its
    agency's own status topic, keyed by referral id. Its first issue says which referral it is."""
    reference = reading.referrer_reference
    accepted = Issue(
        "(reference)",
        f"accepted as referral {referral_id} (your reference {reference}), with these warnings",
        severity="information",
        code="informational",
    )
    outcome = operation_outcome([accepted, *reading.issues])
    agency = sending_agency(command.source, reading)
    assert agency is not None  # an accepted referral always names its agency
    return ReferralAcceptedWithWarnings(
        command.source, agency, referral_id, outcome, command.traceparent
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
