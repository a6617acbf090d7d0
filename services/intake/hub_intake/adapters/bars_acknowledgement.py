"""The answer to a BaRS message: a FHIR R4 response message (MessageHeader.response).

FHIR messaging answers a message with a message: a Bundle of type `message` whose
MessageHeader names the request's MessageHeader.id in `response.identifier`, says `ok` or
`fatal-error` in `response.code` (the sender must not send the same message again unchanged),
and points `response.details` at an OperationOutcome listing every issue. It goes back to the
request's source endpoint, from the endpoint the request was addressed to.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from hub_intake.adapters.formats.bars import EVENTS_SYSTEM, REFERRAL_EVENT, Header

ResponseCode = Literal["ok", "fatal-error"]


def acknowledgement(
    header: Header, code: ResponseCode, outcome: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The response message to the request whose header is `header` (it must have an id)."""
    assert header.message_id is not None
    header_id, outcome_id = str(uuid.uuid4()), str(uuid.uuid4())
    message_header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": {"system": EVENTS_SYSTEM, "code": REFERRAL_EVENT},
        "source": {"endpoint": header.destination_endpoint or "urn:referral-hub:intake"},
        "response": {
            "identifier": header.message_id,
            "code": code,
            "details": {"reference": f"urn:uuid:{outcome_id}"},
        },
    }
    if header.source_endpoint:
        message_header["destination"] = [{"endpoint": header.source_endpoint}]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": now.isoformat(),
        "entry": [
            {"fullUrl": f"urn:uuid:{header_id}", "resource": message_header},
            {"fullUrl": f"urn:uuid:{outcome_id}", "resource": {**outcome, "id": outcome_id}},
        ],
    }
