"""A sender cancelling or amending a referral it sent (BaRS update messages).

The referral is found by what the sender knows it by (source + its own reference, the same key
as a resend), locked, and changed only while its ServiceRequest is still `active`: BaRS lets
a sender cancel only an active ServiceRequest, and has it read the ServiceRequest first; a
sender that says which version it read (`meta.versionId`) is refused when the referral has
changed since. The change is a new version of the same ServiceRequest (same id, versionId one
higher): `revoked` for a cancellation, the referral as sent again for an amendment. It is
written and staged on `referrals.requested` in the caller's transaction, so the router and the
notifier see every version in order (same key, same partition).
"""

from __future__ import annotations

import logging
from typing import Any

from hub_common.fhir.outcome import Issue
from hub_common.fhir.refs import resource_version
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import Reading
from hub_intake.domain.events import ReferralChanged
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.unit_of_work import IntakeUnitOfWork

log = logging.getLogger(__name__)

IDENTIFIER = "Bundle.entry[ServiceRequest].identifier"


async def apply_update(
    uow: IntakeUnitOfWork, command: ReceiveReferrals, reading: Reading
) -> str | None:
    """The referral id when the change is recorded (its event staged); None when it is
    refused, with the reasons added to `reading.issues` for the caller to record."""
    update = reading.update
    assert update is not None
    reference = reading.referrer_reference
    if reference is None:
        reading.issues.append(
            Issue(IDENTIFIER, "the referrer's reference of the referral to change", code="required")
        )
        return None
    row = await uow.referrals.lock(command.source, reference)
    # Another organisation's referral is answered as missing: its existence is not told. Over
    # HTTP only the credential that sent it may change it (a referral whose sender was never
    # verified, from Kafka without an ODS code, is changed on Kafka only, under its ACL).
    if row is None or (command.agency and row.sending_agency != command.agency):
        reading.issues.append(
            Issue(
                IDENTIFIER,
                f"no referral of yours has the reference {reference!r}",
                code="not-found",
            )
        )
        return None
    current: dict[str, Any] = row.service_request
    version = resource_version(current)
    if current.get("status") != "active":
        reading.issues.append(
            Issue(
                "Bundle.entry[ServiceRequest].status",
                f"the referral's ServiceRequest is {current.get('status')}: only an active one "
                "can be cancelled or amended",
                code="business-rule",
            )
        )
    if update.read_version is not None and update.read_version != version:
        reading.issues.append(
            Issue(
                "Bundle.entry[ServiceRequest].meta.versionId",
                f"the referral is at version {version}, not {update.read_version}: read it "
                "again (GET /fhir/ServiceRequest/<id>) before changing it",
                code="conflict",
            )
        )
    if any(issue.is_error for issue in reading.issues):
        return None
    if update.kind == "cancel":
        changed = {**current, "status": "revoked"}
    else:
        assert reading.referral is not None  # an amendment is read as a whole referral
        changed = to_service_request(reading.referral, row.referral_id, row.episode_id)
    changed["meta"] = {**changed.get("meta", {}), "versionId": str(version + 1)}
    await uow.referrals.change(row.referral_id, changed)
    uow.stage(ReferralChanged(row.referral_id, update.kind, changed, command.traceparent))
    log.info("referral %s %s: version %d", row.referral_id, update.kind, version + 1)
    return str(row.referral_id)
