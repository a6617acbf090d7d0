"""Erasure and restriction of one person's data (UK GDPR articles 17 and 18), as events.

Services share nothing but events, so an operator's request (made on the notifier, which links
a person's referrals from several agencies) becomes one `DataProtectionRequested` event on
`hub.data-protection`; every service applies it to its own store, idempotently, and answers
with a `DataProtectionApplied` event on the same topic, which the notifier records so the
operator can see when the request is complete. Both events name referrals and episodes by hub
id only: the topic must itself hold nothing that identifies the person once they are erased.

- `erase`: the person's identifying data goes from every table (deleted, or pseudonymised where
  figures are kept) and from the topics that carried it (hub_common.privacy.topic_erasure). Not
  reversible.
- `restrict`: the person's referrals are kept but not processed: no routing, no notifications.
- `lift`: a restriction ends (`restriction_id` names it); held referrals are routed then.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from faststream.kafka import KafkaBroker
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.systems import PLAIN_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.consuming import Delivery, subscribe
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.messages import DataProtectionMessage
from hub_common.messaging.outbox import OutgoingEvent, add_to_outbox
from hub_common.messaging.topics import Topics

Action = Literal["erase", "restrict", "lift"]
ACTIONS: tuple[str, ...] = get_args(Action)
REQUESTED = "DataProtectionRequested"
APPLIED = "DataProtectionApplied"
PUBLICATION = (
    "Erasure and restriction of one person's data: DataProtectionRequested (an operator's "
    "request: action erase | restrict | lift, the referral and episode ids concerned) and "
    "DataProtectionApplied (a service has applied it to its own store); ids only, keyed by "
    "request id"
)


@dataclass(frozen=True)
class DataProtectionRequest:
    """One lawful request about one person, by the hub ids of their referrals and episodes."""

    action: Action
    referral_ids: tuple[str, ...]
    episode_ids: tuple[str, ...] = ()
    restriction_id: str | None = None  # for `lift`: the restriction it ends
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def subjects(self) -> tuple[str, ...]:
        """Referral and episode ids together: what a restriction is recorded against."""
        return tuple(dict.fromkeys((*self.referral_ids, *self.episode_ids)))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": REQUESTED,
            "requestId": self.request_id,
            "action": self.action,
            "referralIds": list(self.referral_ids),
            "episodeIds": list(self.episode_ids),
            "restrictionId": self.restriction_id,
            "requestedAt": self.requested_at.isoformat(),
        }

    @classmethod
    def from_json(cls, value: Any) -> DataProtectionRequest:
        """The request a `hub.data-protection` message carries; ValueError when it is not one."""
        try:
            action = value["action"]
            if action not in ACTIONS:
                raise ValueError("not a data protection action")
            request = cls(
                action=action,
                referral_ids=_ids(value["referralIds"]),
                episode_ids=_ids(value.get("episodeIds", [])),
                restriction_id=value.get("restrictionId"),
                request_id=str(value["requestId"]),
                requested_at=datetime.fromisoformat(value["requestedAt"]),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a data protection request ({type(error).__name__})") from None
        if action == "lift" and not request.restriction_id:
            raise ValueError("a lift names the restriction it ends")
        return request


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of ids")
    return tuple(value)


def requested_event(topics: Topics, request: DataProtectionRequest) -> OutgoingEvent:
    return OutgoingEvent(
        topic=topics.data_protection,
        key=request.request_id,
        value=dumps(request.to_json()),
        envelope=Envelope.new(REQUESTED, PLAIN_JSON),
    )


def applied_event(
    topics: Topics, request: DataProtectionRequest, service: str, counts: dict[str, int]
) -> OutgoingEvent:
    """A service's answer: it has applied `request` to its own store (counts of rows)."""
    value = {
        "kind": APPLIED,
        "requestId": request.request_id,
        "action": request.action,
        "service": service,
        "appliedAt": datetime.now(UTC).isoformat(),
        "counts": counts,
    }
    return OutgoingEvent(
        topic=topics.data_protection,
        key=request.request_id,
        value=dumps(value),
        envelope=Envelope.new(APPLIED, PLAIN_JSON),
    )


async def stage_applied(
    session: AsyncSession,
    outbox: Table,
    topics: Topics,
    request: DataProtectionRequest,
    service: str,
    counts: dict[str, int],
) -> None:
    """Stage the answer in the transaction that applied the request (both or neither)."""
    await add_to_outbox(session, outbox, [applied_event(topics, request, service, counts)])


Handler = Callable[[DataProtectionRequest, str], Awaitable[None]]
"""Applies a request (with its event id, to deduplicate on) to one service's store."""


def subscribe_requests(
    broker: KafkaBroker,
    topics: Topics,
    group_id: str,
    service: str,
    apply: Handler,
    on_applied: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """Apply every request on `hub.data-protection` to `service`'s store; answers (applied
    events) go to `on_applied` when given (the notifier records them), else are ignored."""

    async def on_message(message: DataProtectionMessage, delivery: Delivery) -> None:
        value = message.value
        if value.get("kind") == APPLIED:
            if on_applied is not None:
                await on_applied(value)
            return
        await apply(DataProtectionRequest.from_json(value), delivery.event_id)

    subscribe(
        broker,
        topics=topics.data_protection,
        group_id=group_id,
        message=DataProtectionMessage,
        description=f"Erasure and restriction requests, applied to the {service}'s own store",
        apply=on_message,
    )


def restricted(subjects: Iterable[str], restrictions: set[str]) -> bool:
    """Whether any of a referral's ids (its own, its episode's) is restricted."""
    return any(subject in restrictions for subject in subjects)
