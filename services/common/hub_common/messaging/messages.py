"""The shapes of the messages on the hub's own topics: one type per kind of message.

Consumers validate each record against its type before their handler sees it (a message that
does not fit is set aside with the field it got wrong, hub_common.messaging.consuming), and the
AsyncAPI documents show these types as each channel's payload schema.

FHIR resources are typed thinly, as dictionaries with their resource type and id checked: the
hub's FHIR code works on the JSON itself, the full structure is FHIR R4's own (validated where
the hub emits it, tests/integration/test_fhir_conformance.py), and a complete model of it here
would only copy the specification. The hub's own JSON events are typed field by field.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, NotRequired, TypeVar, cast

from pydantic import ConfigDict, RootModel
from typing_extensions import TypedDict

from hub_common.messaging.onward import OnwardEvent

__all__ = [
    "AlertMessage",
    "AuditMessage",
    "BundleMessage",
    "DataProtectionMessage",
    "OnwardEvent",
    "OperationOutcomeMessage",
    "PractitionerRoleMessage",
    "RejectedMessage",
    "ServiceRequestMessage",
    "TaskMessage",
]

# A tolerant reader: every other element of a FHIR resource, and a field a newer producer
# added to an event, pass through to the handler untouched.
_OPEN = ConfigDict(extra="allow")


class ServiceRequestFields(TypedDict):
    """A FHIR R4 ServiceRequest: an accepted referral (`referrals.requested`, key: referral id),
    self-contained (its Patient and requester contained). A later version of the same id is the
    referrer cancelling or amending it."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    resourceType: Literal["ServiceRequest"]
    id: str


class TaskFields(TypedDict):
    """A FHIR R4 Task snapshot (`referrals.tasks`, key: referral id): the referral's whole Task
    after a change; `meta.versionId` rises by one with every change."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    resourceType: Literal["Task"]
    id: str


class PractitionerRoleFields(TypedDict):
    """A FHIR R4 PractitionerRole: one link worker's directory entry (`linkworkers.directory`,
    key: the worker's id, compacted; a tombstone removes the worker)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    resourceType: Literal["PractitionerRole"]


class BundleFields(TypedDict):
    """A FHIR R4 Bundle: a community service with its organisation and locations
    (`directory.services`, compacted, a tombstone withdraws it), or a Subscriptions Backport
    history notification (an agency's own `referrals.status.<source>.<agency>`)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    resourceType: Literal["Bundle"]


class OperationOutcomeFields(TypedDict):
    """A FHIR R4 OperationOutcome: the issues found in a message, each naming its field."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    resourceType: Literal["OperationOutcome"]
    issue: list[dict[str, Any]]


class ReferrerContact(TypedDict, total=False):
    organisation: str | None
    name: str | None
    email: str | None
    phone: str | None


class RejectedFields(TypedDict):
    """A refused referral (`referrals.rejected`, key: rejection id): enough to tell the referrer
    why and to replay it. `inbound` names the Kafka record it came from, when it did."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    rejectionId: NotRequired[str]  # absent in events from before it was added: the event id
    source: str
    receivedAt: NotRequired[str]
    referrerReference: NotRequired[str | None]
    item: NotRequired[str | None]  # which record of a batch, e.g. "row 3" of a CSV
    agency: NotRequired[str | None]
    referrerContact: NotRequired[ReferrerContact | None]
    original: NotRequired[Any]
    outcome: NotRequired[OperationOutcomeFields]
    inbound: NotRequired[dict[str, Any]]


class AlertFields(TypedDict):
    """An alert for coordinators (`hub.alerts`, key: referral id), by ids and area only:
    `referral-awaiting-allocation`, `sla-breach` (`rule`, `level`, `dueAt`),
    `sla-breach-resolved` (`rule`, `resolution`) or `onward-no-response`."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    alert: str
    referralId: str
    task: NotRequired[str]
    borough: NotRequired[str | None]
    why: NotRequired[str]
    failedOffers: NotRequired[int]
    rule: NotRequired[str]
    level: NotRequired[str]
    resolution: NotRequired[str]
    onwardTask: NotRequired[str]
    serviceId: NotRequired[str]
    worker: NotRequired[str | None]
    dueAt: NotRequired[str]
    raisedAt: NotRequired[str]


class AuditActor(TypedDict):
    role: str
    subject: str
    organisation: str | None


class AuditRequest(TypedDict):
    method: str
    route: str
    peer: NotRequired[str | None]
    forwardedFor: NotRequired[str | None]


class AuditFields(TypedDict):
    """One read or change of personal data (`hub.audit`, key: event id), by hub ids only."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    eventId: str
    at: str
    service: str
    actor: AuditActor
    action: str
    resourceKind: NotRequired[str]
    resourceType: NotRequired[str]  # what entries staged before `resourceKind` say
    resourceIds: list[str]
    request: AuditRequest
    outcome: str


class DataProtectionRequestedFields(TypedDict):
    """An operator's request about one person (`hub.data-protection`, key: request id)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    kind: NotRequired[Literal["DataProtectionRequested"]]
    requestId: str
    action: str  # erase, restrict or lift
    referralIds: list[str]
    episodeIds: NotRequired[list[str]]
    restrictionId: NotRequired[str | None]
    requestedAt: str


class DataProtectionAppliedFields(TypedDict):
    """A service's answer: it applied the request to its own store (counts of rows)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    kind: Literal["DataProtectionApplied"]
    requestId: str
    action: str
    service: str
    appliedAt: str
    counts: dict[str, int]


Fields = TypeVar("Fields")


class JsonMessage(RootModel[Fields], Generic[Fields]):
    """A message that is one JSON object: `root`, typed by its fields, or `value`, as the JSON
    object the hub's code works on (the same dict, not a copy). A model per kind of message
    gives each its own name in the AsyncAPI documents."""

    @property
    def value(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.root)


class ServiceRequestMessage(JsonMessage[ServiceRequestFields]):
    __doc__ = ServiceRequestFields.__doc__


class TaskMessage(JsonMessage[TaskFields]):
    __doc__ = TaskFields.__doc__


class PractitionerRoleMessage(JsonMessage[PractitionerRoleFields]):
    __doc__ = PractitionerRoleFields.__doc__


class BundleMessage(JsonMessage[BundleFields]):
    __doc__ = BundleFields.__doc__


class OperationOutcomeMessage(JsonMessage[OperationOutcomeFields]):
    __doc__ = OperationOutcomeFields.__doc__


class RejectedMessage(JsonMessage[RejectedFields]):
    __doc__ = RejectedFields.__doc__


class AlertMessage(JsonMessage[AlertFields]):
    __doc__ = AlertFields.__doc__


class AuditMessage(JsonMessage[AuditFields]):
    __doc__ = AuditFields.__doc__


class DataProtectionMessage(
    JsonMessage[DataProtectionRequestedFields | DataProtectionAppliedFields]
):
    """An erasure or restriction request, or a service's answer (`hub.data-protection`)."""
