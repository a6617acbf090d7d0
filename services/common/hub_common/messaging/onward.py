"""The `referrals.onward` message: one change of an onward referral, by ids and codes only.

The router writes one per change of an onward referral (a link worker sending the person on to
a community organisation's service, the organisation answering, the hub nudging or declining
it for them); the notifier reads them to tell the organisation. Keyed by the link worker's
referral id, so every event of one person's referral (its Task on `referrals.tasks`, its
alerts, its onward referrals) keeps its order per topic, on the same partition number.

No personal data: the person is behind the organisation's credentials, on the router's
`GET /fhir/ServiceRequest/<onward id>`. The organisation's e-mail is the directory's public
contact, there so an organisation without a system of its own can be e-mailed a link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub_common.region.directory import ORGANISATION_ID_SYSTEM

ONWARD_SENT = "OnwardReferralSent"
ONWARD_CHANGED = "OnwardReferralChanged"
ONWARD_NUDGED = "OnwardReferralNudged"

OnwardKind = Literal["sent", "accepted", "declined", "started", "completed", "failed", "nudged",
                     "expired"]  # fmt: skip
"""What happened: `expired` is the hub declining an unanswered referral at its deadline."""


class OnwardService(BaseModel):
    """The directory service the person is sent to, and the organisation that runs it."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    service_id: str = Field(alias="serviceId", description="HealthcareService id in the directory")
    service_name: str = Field(alias="serviceName")
    organisation_id: str = Field(alias="organisationId", description="directory organisation id")
    organisation_name: str = Field(alias="organisationName")
    organisation_email: str | None = Field(
        default=None, alias="organisationEmail", description="the directory's public contact"
    )


class OnwardEvent(BaseModel):
    """One change of an onward referral (`referrals.onward`, key: the referral id)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    kind: OnwardKind
    onward_id: str = Field(
        alias="onwardId", description="the onward Task's and ServiceRequest's id"
    )
    referral_id: str = Field(alias="referralId", description="the link worker's referral (Task)")
    version: int = Field(ge=1, description="the onward Task's meta.versionId after this change")
    status: str = Field(description="the onward Task's status")
    business_status: str = Field(alias="businessStatus")
    service: OnwardService
    due_at: datetime = Field(alias="dueAt", description="when an unanswered referral is declined")
    occurred_at: datetime = Field(alias="occurredAt")

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


def organisation_key(organisation_id: str) -> str:
    """How the notifier names a directory organisation among subscribers (`system|value`, like
    an agency's identifier, in the directory organisation system so they never collide)."""
    return f"{ORGANISATION_ID_SYSTEM}|{organisation_id}"
