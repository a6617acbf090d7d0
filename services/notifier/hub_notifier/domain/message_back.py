"""The message back to the person's GP practice, at the moments the national standard names.

The PRSB Social Prescribing Information Standard (v1.1, ISN 2023) has the link worker's
service tell the GP practice what to file in the person's record, as codes:

- **accepted**: when the person takes up the link worker's support (the first interaction of
  an episode, the step `first-contact-made`), SNOMED CT 871731000000106 |Referral to social
  prescribing service|;
- **declined**: when the person declines it, 871711000000103 |Social prescribing declined|;
- **closed**: when the referral is completed, the support offered and the wellbeing measures,
  coded (message_back_content.py, from the Task's outputs); it repeats 871731000000106 only
  when the acceptance was never sent on its own (a referral accepted and closed in one step).

Only the GP practice hears it (see `for_gp_practice`); other referrers hear the status and the
step, nothing of the person's casework.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub_common.fhir.systems import ODS_SYSTEM
from hub_common.fhir.task_outputs import Outcomes
from hub_common.fhir.task_status import CONTACT_MADE
from hub_common.fhir.task_status import BusinessStatus as B
from hub_common.fhir.task_status import TaskStatus as S
from hub_notifier.domain.message_back_content import outcome_parts

SNOMED = "http://snomed.info/sct"
REFERRED = ("871731000000106", "Referral to social prescribing service")
DECLINED = ("871711000000103", "Social prescribing declined")

ENDED = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
DECLINED_STATUSES = frozenset({B.DECLINED_BY_PERSON})
CONTACT_STEPS = CONTACT_MADE
"""Steps that mean the person and the link worker have met: the person took up support."""
GP_SOURCE = "fhir"
"""GP practices send through the FHIR source, identified by their ODS code."""


class Moment(StrEnum):
    """When a message back is due."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    CLOSED = "closed"


@dataclass(frozen=True)
class MessageBack:
    """What the GP practice files, as codes and references (never free text)."""

    moment: Moment
    status: str
    business_status: str
    code: tuple[str, str] | None  # the SNOMED CT code and display to record, if any
    outcomes: Outcomes | None = None  # at closure: the support offered and the measures


def for_gp_practice(source: str, requester_org: str) -> bool:
    """Whether the referrer is a GP practice (the only referrer the message back is for)."""
    return source == GP_SOURCE and requester_org.startswith(f"{ODS_SYSTEM}|")


def moment_of(status: str, business_status: str, *, first_contact: bool) -> Moment | None:
    """The moment a Task version marks, if any. `first_contact`: this is the episode's first
    version at a contact step."""
    if business_status in DECLINED_STATUSES and status in ENDED:
        return Moment.DECLINED
    if status == S.COMPLETED:
        return Moment.CLOSED
    if first_contact and business_status in CONTACT_STEPS and status not in ENDED:
        return Moment.ACCEPTED
    return None


def message_back(
    status: str,
    business_status: str,
    *,
    first_contact: bool = False,
    outcomes: Outcomes | None = None,
) -> MessageBack | None:
    """The message back a Task version calls for; None when it calls for none. `outcomes`
    (the Task's) go with the closing message only."""
    moment = moment_of(status, business_status, first_contact=first_contact)
    if moment is None:
        return None
    code = {
        Moment.ACCEPTED: REFERRED,
        Moment.DECLINED: DECLINED,
        Moment.CLOSED: REFERRED if first_contact else None,
    }[moment]
    return MessageBack(
        moment, status, business_status, code, outcomes if moment is Moment.CLOSED else None
    )


def message_back_parameter(
    message: MessageBack, event_number: int | None = None, document_url: str | None = None
) -> dict[str, Any]:
    """A Parameters.parameter named `message-back` carried beside the notification event.

    `event-number` names the event it belongs to: one notification can carry several events
    (see coalescing.py), and so several message backs. `document` is the address of the same
    message as a FHIR document Bundle the GP system files as one unit."""
    parts: list[dict[str, Any]] = []
    if event_number is not None:
        parts.append(event_number_part(event_number))
    parts += [
        {"name": "moment", "valueCode": message.moment.value},
        {"name": "outcome", "valueCode": message.status},
    ]
    if message.code is not None:
        parts.append(
            {
                "name": "code",
                "valueCoding": {
                    "system": SNOMED,
                    "code": message.code[0],
                    "display": message.code[1],
                },
            }
        )
    if message.business_status:
        parts.append({"name": "business-status", "valueCode": message.business_status})
    if message.outcomes is not None:
        parts += outcome_parts(message.outcomes)
    if document_url is not None:
        parts.append({"name": "document", "valueUri": document_url})
    return {"name": "message-back", "part": parts}


def event_number_part(event_number: int) -> dict[str, Any]:
    # A string, as the Backport's own `event-number` (R4 has no integer64).
    return {"name": "event-number", "valueString": str(event_number)}


def document_id(referral_id: str, moment: Moment) -> str:
    """The id of the document Bundle of one message back (`GET /fhir/Bundle/<id>`)."""
    return f"{referral_id}-{moment.value}"


def parse_document_id(value: str) -> tuple[str, Moment] | None:
    """The referral and moment a document id names; None when it names none."""
    referral_id, _, moment = value.rpartition("-")
    if not referral_id or moment not in set(Moment):
        return None
    return referral_id, Moment(moment)


def version_of_moment(
    versions: list[dict[str, Any]], moment: Moment
) -> tuple[dict[str, Any], bool] | None:
    """The first Task version (oldest first in `versions`) that marked `moment`, and whether it
    was the episode's first contact: the same reading the notifications made when it arrived."""
    contacted = False
    for task in versions:
        status = str(task.get("status") or "")
        step = step_of(task)
        first_contact = step in CONTACT_STEPS and not contacted
        contacted = contacted or first_contact
        if moment_of(status, step, first_contact=first_contact) is moment:
            return task, first_contact
    return None


def step_of(task: dict[str, Any]) -> str:
    """A Task's step (its businessStatus code), "" when it has none."""
    codings: list[dict[str, Any]] = (task.get("businessStatus") or {}).get("coding") or []
    return str(codings[0].get("code") or "") if codings else ""
