"""The "message back" a GP needs when a referral ends: what to record, with codes and ids only.

On completion the referrer's system records a SNOMED CT code against the person's record:
871731000000106 |Referral to social prescribing service| when the person took it up, and
871711000000103 |Social prescribing declined| when they declined (DESIGN.md, issue 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SNOMED = "http://snomed.info/sct"
REFERRED = ("871731000000106", "Referral to social prescribing service")
DECLINED = ("871711000000103", "Social prescribing declined")

ENDED = frozenset({"completed", "failed", "cancelled"})
DECLINED_STATUSES = frozenset({"declined-by-person"})


@dataclass(frozen=True)
class MessageBack:
    """The outcome of a referral that ended, as codes and references (never free text)."""

    status: str
    business_status: str
    code: tuple[str, str]  # SNOMED CT code and display
    connected_to: tuple[str, ...]  # references or `system|code` of services the person joined


def message_back(
    status: str, business_status: str, connected_to: tuple[str, ...] = ()
) -> MessageBack | None:
    """The message back for a Task that has ended; None while it is still going (or failed
    for another reason than the person declining, which leaves nothing to record)."""
    if business_status in DECLINED_STATUSES and status in ENDED:
        return MessageBack(status, business_status, DECLINED, connected_to)
    if status == "completed":
        return MessageBack(status, business_status, REFERRED, connected_to)
    return None


def message_back_parameter(message: MessageBack, event_number: int | None = None) -> dict[str, Any]:
    """A Parameters.parameter named `message-back` carried beside the notification event.

    `event-number` names the event it belongs to: one notification can carry several events
    (see coalescing.py), and so several message backs."""
    parts: list[dict[str, Any]] = []
    if event_number is not None:
        parts.append(event_number_part(event_number))
    parts += [
        {"name": "outcome", "valueCode": message.status},
        {
            "name": "code",
            "valueCoding": {"system": SNOMED, "code": message.code[0], "display": message.code[1]},
        },
    ]
    if message.business_status:
        parts.append({"name": "business-status", "valueCode": message.business_status})
    parts.extend(
        {"name": "connected-to", "valueString": reference} for reference in message.connected_to
    )
    return {"name": "message-back", "part": parts}


def event_number_part(event_number: int) -> dict[str, Any]:
    # A string, as the Backport's own `event-number` (R4 has no integer64).
    return {"name": "event-number", "valueString": str(event_number)}
