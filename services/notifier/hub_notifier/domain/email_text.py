"""The e-mail a referrer with no system of their own receives: the new status and a link.

It names the referral by the hub's id (and the referrer's own reference, which they chose) and
never by the person: e-mail is not a safe place for personal data, and the link leads to the
full record behind the referrer's own credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_common.fhir.task_status import TaskStatus as S
from hub_notifier.domain.message_back import MessageBack
from hub_notifier.domain.message_back_content import outcome_lines

STATUS_SENTENCES: dict[str, str] = {
    S.REQUESTED: "has been received and is waiting for a link worker",
    S.ACCEPTED: "has been accepted by a link worker",
    S.IN_PROGRESS: "is in progress: a link worker is working with the person",
    S.ON_HOLD: "is on hold for now",
    S.COMPLETED: "has been completed",
    S.FAILED: "has been closed without being completed",
    S.CANCELLED: "has been cancelled",
    S.REJECTED: "could not be accepted: something in it needs correcting",
    S.ENTERED_IN_ERROR: "has been withdrawn (it was entered in error)",
}
STATUS_LABELS: dict[str, str] = {
    S.REQUESTED: "received",
    S.ACCEPTED: "accepted",
    S.IN_PROGRESS: "in progress",
    S.ON_HOLD: "on hold",
    S.COMPLETED: "completed",
    S.FAILED: "closed",
    S.CANCELLED: "cancelled",
    S.REJECTED: "needs correcting",
    S.ENTERED_IN_ERROR: "withdrawn",
}


@dataclass(frozen=True)
class StatusEmail:
    """Subject and plain-text body of one status e-mail."""

    subject: str
    body: str


def status_email(
    *,
    referral_id: str,
    status: str,
    business_status: str,
    link: str,
    referrer_reference: str | None = None,
    message: MessageBack | None = None,
    document_link: str | None = None,
) -> StatusEmail:
    sentence = STATUS_SENTENCES.get(status, f"is now {status}")
    yours = f" (your reference {referrer_reference})" if referrer_reference else ""
    lines = [
        f"Your referral {referral_id}{yours} {sentence}.",
        f"Status: {status}" + (f" ({business_status})" if business_status else ""),
    ]
    if message is not None and message.code is not None:
        lines.append(f"Code to record: SNOMED CT {message.code[0]} |{message.code[1]}|")
    if message is not None and message.outcomes is not None:
        lines += ["", *outcome_lines(message.outcomes)]
    if document_link is not None:
        lines += ["", f"To file in the person's record (FHIR document): {document_link}"]
    if status == S.REJECTED:
        lines.append("The link below says what was wrong, and lets you correct and resend it.")
    lines += [
        "",
        f"Details (sign in to see them): {link}",
        "",
        "This message was sent by the referral hub.",
    ]
    label = STATUS_LABELS.get(status, status)
    return StatusEmail(subject=f"Referral {referral_id}: {label}", body="\n".join(lines) + "\n")


ONWARD_SUBJECTS = {
    "sent": "New referral {id} from the social prescribing hub",
    "nudged": "Reminder: referral {id} is waiting for your answer",
    "expired": "Referral {id} closed: no answer by its deadline",
}


def onward_email(
    *, kind: str, onward_id: str, service_name: str, due: str, link: str
) -> StatusEmail:
    """What a community organisation without a system of its own is e-mailed about an onward
    referral: that there is one, a reminder at half its deadline, that it lapsed. The person
    is behind the link, never in the e-mail."""
    lines = {
        "sent": [
            f"A link worker has referred someone to {service_name}.",
            f"Please accept or decline it by {due}; unanswered, it is declined for you then.",
        ],
        "nudged": [
            f"A referral to {service_name} is still waiting for your answer.",
            f"Please accept or decline it by {due}; unanswered, it is declined for you then.",
        ],
        "expired": [
            f"A referral to {service_name} was not answered by {due}.",
            "It has been declined for you and returned to the link worker.",
        ],
    }[kind]
    body = [*lines, "", f"Open it: {link}", "", "This message was sent by the referral hub."]
    return StatusEmail(
        subject=ONWARD_SUBJECTS[kind].format(id=onward_id), body="\n".join(body) + "\n"
    )
