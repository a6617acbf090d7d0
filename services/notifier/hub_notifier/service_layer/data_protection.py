"""Erasure and restriction requests: an operator makes them here, every service applies them.

The notifier finds the person (by NHS number, or by one of their referrals, with every referral
linked to them as the same person), records the request (ids only), and publishes it on
`hub.data-protection` with its audit entry, all in one transaction. It then applies the request
to its own store like every other service, and records each service's answer, so the operator
reads when the request is complete (`GET /operator/data-protection/{id}`).

The audit log is not touched: its entries name staff and hub ids, never the person, so once
the stores no longer tie those ids to anyone they are pseudonyms, and the record of who did
what, when, stays whole. The request itself is a new entry (action `update`, kind `Erasure`,
`Restriction` or `RestrictionLift`), naming the referral ids concerned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hub_common.messaging.topics import Topics
from hub_common.privacy.data_protection import (
    Action,
    DataProtectionRequest,
    applied_event,
    requested_event,
)
from hub_common.security.audit import AuditEntry
from hub_notifier.service_layer.unit_of_work import NotifierUnitOfWork, Sessions

log = logging.getLogger(__name__)

AUDIT_KIND = {"erase": "Erasure", "restrict": "Restriction", "lift": "RestrictionLift"}


class NobodyFound(LookupError):
    """No referral of the hub names this person (or the restriction to lift is not in force)."""


class NotifierDataProtection:
    def __init__(
        self,
        sessions: Sessions,
        topics: Topics,
        on_commit: Callable[[], None] = lambda: None,
        units: Callable[[], NotifierUnitOfWork] | None = None,
    ) -> None:
        self._new_unit = units or (lambda: NotifierUnitOfWork(sessions, topics))
        self._topics = topics
        self._on_commit = on_commit

    async def request(
        self,
        action: Action,
        audit: AuditEntry,
        *,
        nhs_number: str | None = None,
        referral_id: str | None = None,
    ) -> DataProtectionRequest:
        """Erase or restrict the person found; raises NobodyFound."""
        unit = self._new_unit()
        async with unit.transaction():
            referrals, episodes = await unit.data_protection.find_person(
                nhs_number=nhs_number, referral_id=referral_id
            )
            if not referrals:
                raise NobodyFound()
            request = DataProtectionRequest(action, tuple(referrals), tuple(episodes))
            await self._publish(unit, request, audit)
        self._on_commit()
        return request

    async def lift(self, restriction_id: str, audit: AuditEntry) -> DataProtectionRequest:
        """End a restriction in force; raises NobodyFound when there is none with this id."""
        unit = self._new_unit()
        async with unit.transaction():
            records = unit.data_protection
            restriction = await records.request_row(restriction_id)
            now = datetime.now(UTC)
            if restriction is None or not await records.mark_lifted(restriction_id, now):
                raise NobodyFound()
            request = DataProtectionRequest(
                "lift",
                tuple(restriction.referral_ids),
                tuple(restriction.episode_ids),
                restriction_id=restriction_id,
                requested_at=now,
            )
            await self._publish(unit, request, audit)
        self._on_commit()
        return request

    async def _publish(
        self, unit: NotifierUnitOfWork, request: DataProtectionRequest, audit: AuditEntry
    ) -> None:
        entry = replace(audit, resource_type=AUDIT_KIND[request.action]).about(request.referral_ids)
        await unit.data_protection.record_request(request, entry.actor_subject)
        unit.stage(requested_event(self._topics, request), entry)

    async def status(self, request_id: str) -> dict[str, Any] | None:
        unit = self._new_unit()
        async with unit.transaction():
            row = await unit.data_protection.request_row(request_id)
        if row is None:
            return None
        return {
            "requestId": row.request_id,
            "action": row.action,
            "referralIds": list(row.referral_ids),
            "episodeIds": list(row.episode_ids),
            "restrictionId": row.restriction_id,
            "requestedBy": row.requested_by,
            "requestedAt": row.requested_at.isoformat(),
            "liftedAt": row.lifted_at.isoformat() if row.lifted_at else None,
            "appliedBy": dict(row.applied),
        }

    async def apply(self, request: DataProtectionRequest, event_id: str) -> None:
        """The notifier's own share: erase its rows, or record or lift the restriction."""
        counts: dict[str, int] = {}
        unit = self._new_unit()
        async with unit.transaction():
            if not await unit.processed.first_one("notifier.data-protection", event_id):
                return
            records = unit.data_protection
            if request.action == "erase":
                counts["referrals"] = await records.erase(request.referral_ids, request.episode_ids)
            elif request.action == "restrict":
                counts["restricted"] = await records.restrict(request.request_id, request.subjects)
            elif request.restriction_id:
                await records.lift(request.restriction_id)
            unit.stage(applied_event(self._topics, request, "notifier", counts))
        self._on_commit()
        log.info("data protection request %s (%s) applied", request.request_id, request.action)

    async def record_applied(self, value: dict[str, Any]) -> None:
        """A service's answer: kept on the request (idempotent)."""
        try:
            request_id, service, at = value["requestId"], value["service"], value["appliedAt"]
        except KeyError:
            raise ValueError("not a data protection answer") from None
        unit = self._new_unit()
        async with unit.transaction():
            await unit.data_protection.record_applied(str(request_id), str(service), str(at))
