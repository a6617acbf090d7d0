"""Intake applies erasure requests (hub_common.privacy.data_protection): its own rows, and the records
on the topics it reads and writes that carry the person.

The topics come first: the person's identifiers, which find their records there, are read from
the rows the erasure then deletes. A retry after a failure between the two (or while a reader
is still behind, hub_common.privacy.topic_erasure.ReadersBehind) therefore starts again from the rows.
Restriction asks nothing of intake: it keeps receiving (refusing a person's new referral would
lose it), and the router holds a restricted person's referrals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub_common.agency_formats import inbound_sources
from hub_common.messaging.topics import Topics
from hub_common.privacy.data_protection import DataProtectionRequest, applied_event
from hub_common.privacy.topic_erasure import Person, delete_before, last_records
from hub_intake.adapters.erasure_store import identifiers
from hub_intake.adapters.unit_of_work import Changes, Sessions, changes_for

log = logging.getLogger(__name__)


class IntakeDataProtection:
    def __init__(
        self,
        sessions: Sessions | None,
        topics: Topics,
        kafka_options: Mapping[str, Any],
        group_prefix: str,
        *,
        changes: Changes | None = None,
    ) -> None:
        self._changes = changes_for(sessions, changes)
        self._topics = topics
        self._kafka = kafka_options
        self._group_prefix = group_prefix

    def person_topics(self) -> list[str]:
        """The topics that carry a person's identifying data, which intake reads or writes."""
        topics = self._topics
        return [
            *(topics.inbound(source) for source in inbound_sources()),
            topics.requested,
            topics.rejected,
        ]

    async def apply(self, request: DataProtectionRequest, event_id: str) -> None:
        counts: dict[str, int] = {}
        if request.action == "erase":
            async with self._changes() as uow:
                held = await uow.erasure.referrals_of(request.referral_ids, request.episode_ids)
            person = Person.of(
                [*request.referral_ids, *(referral_id for referral_id, _ in held)],
                [term for _, sr in held for term in identifiers(sr)],
            )
            bounds = await last_records(self._kafka, self.person_topics(), person)
            await delete_before(self._kafka, bounds, self._group_prefix)
            counts["topicPartitions"] = len(bounds)
        async with self._changes() as uow:
            if not await uow.erasure.first_delivery(event_id):
                return
            if request.action == "erase":
                counts["referrals"] = await uow.erasure.erase(
                    request.referral_ids, request.episode_ids
                )
            uow.record(applied_event(self._topics, request, "intake", counts))
        log.info("data protection request %s (%s) applied", request.request_id, request.action)
