"""A referral's later versions on `referrals.requested`: its referrer cancelled or amended it.

Intake publishes a changed referral as the same ServiceRequest with a higher `meta.versionId`
(BaRS update messages, services/intake/hub_intake/service_layer/referral_updates.py):

- `revoked`: the referrer cancelled it. The Task is cancelled as by the referrer's own
  `$cancel`: it leaves any offer and its worker's caseload (cancelled is not an open status).
- `active`: the referrer amended it. The router keeps the new facts (needs, area, language)
  and publishes the Task again, one version up, with a note naming the ServiceRequest version,
  so whoever holds or is offered it sees it changed. It stays with them: taking a referral away
  from a worker who has begun would cost the person more than a less perfect match.

Each event applies once (its event id), and a version at or below the one held changes nothing
(a replay). A referral already closed is left as it is, and logged by id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.refs import resource_version
from hub_common.messaging.topics import Topics
from hub_router.adapters import task_repository as repo
from hub_router.adapters.service_request import read_service_request
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.domain.task_status import TransitionRefused
from hub_router.service_layer.recording import record_change

log = logging.getLogger(__name__)

CANCELLED_BY_REFERRER = "cancelled by the referrer (BaRS update message)"


def is_change(request: Any) -> bool:
    """A later version of a referral (an amendment or a cancellation), not a new referral."""
    return isinstance(request, dict) and (
        resource_version(request) > 1 or request.get("status") == "revoked"
    )


class ReferralChanges:
    """Applies referrers' cancellations and amendments, one transaction each."""

    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        units: Units | None = None,
    ) -> None:
        self._units = units_for(sessions, topics, units)
        self._topics = topics
        self._clock = clock

    async def apply(self, request: dict[str, Any], event_id: str, traceparent: str | None) -> bool:
        """Apply one changed ServiceRequest; True when a new Task version was published."""
        referral_id = str(request.get("id") or "")
        version = resource_version(request)
        async with self._units() as uow:
            if not await uow.tasks.first_delivery("router.requested", event_id):
                return False
            stored = await uow.tasks.lock(referral_id)
            if stored is None:
                # Its first version always comes first (same key, same partition): a change
                # to an unknown referral is a stray, kept out of the Tasks.
                log.error("change to unknown referral %s on referrals.requested", referral_id)
                return False
            if version <= int(stored.facts.get("referralVersion", 1)):
                return False  # this version, or a later one, is applied already
            try:
                after, event = self._changed(stored, request, version)
            except TransitionRefused:
                log.info(
                    "referral %s is %s: version %d not applied",
                    referral_id,
                    stored.task.status,
                    version,
                )
                return False
            await record_change(
                uow,
                self._topics,
                stored,
                after,
                self._clock(),
                traceparent,
                decision={"event": event, "referralVersion": version},
            )
        log.info("referral %s %s (version %d)", referral_id, event, version)
        return True

    @staticmethod
    def _changed(
        stored: repo.StoredTask, request: dict[str, Any], version: int
    ) -> tuple[repo.StoredTask, str]:
        if request.get("status") == "revoked":
            task = stored.task.cancel_for_referrer(CANCELLED_BY_REFERRER)
            facts = {**stored.facts, "referralVersion": version}
            return replace(stored, task=task, facts=facts), "referral cancelled by the referrer"
        new = read_service_request(request)
        task = stored.task.amend()
        facts = {
            **stored.facts,
            "requester": new.requester,
            "referrerIdentifier": new.referrer_identifier,
            "authoredOn": new.authored_on,
            "route": repo.route_to_json(new.route),
            "referralVersion": version,
        }
        return replace(stored, task=task, facts=facts), "referral amended by the referrer"
