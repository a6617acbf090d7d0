"""Link workers answering offers and recording progress: changes that choose no worker.

They lock only the Task's row (not the assignment lock): accepting keeps the referral with the
worker it was offered to, and later steps never add to anyone's load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from hub_common.messaging.topics import Topics
from hub_common.security.audit import AuditEntry
from hub_router.adapters import task_repository as repo
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.domain.offers import ReferralTask, TaskNotVisible
from hub_router.service_layer.commands import AcceptOffer, CancelReferral, ChangeTaskStatus
from hub_router.service_layer.recording import TaskChanged, record_change
from hub_router.service_layer.restriction import refuse_if_restricted

log = logging.getLogger(__name__)


class TaskProgress:
    """Accepting offers and moving accepted Tasks through the status machine."""

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

    async def accept(self, command: AcceptOffer) -> TaskChanged:
        """The offered worker takes the referral on (even just past the deadline, as long as
        the offer has not moved on: the person gets a worker sooner)."""
        return await self._change(
            command.referral_id,
            lambda task: task.accept(command.worker_id),
            command.traceparent,
            command.audit,
        )

    async def change_status(self, command: ChangeTaskStatus) -> TaskChanged:
        """The owner records a new status and/or step; the status machine decides."""
        return await self._change(
            command.referral_id,
            lambda task: task.change_status(
                command.worker_id,
                command.status,
                command.business_status,
                command.reason,
                command.outputs,
            ),
            command.traceparent,
            command.audit,
        )

    async def cancel_for_referrer(self, command: CancelReferral) -> TaskChanged:
        """The organisation that made the referral withdraws it; to any other caller the
        referral does not exist."""
        return await self._change(
            command.referral_id,
            lambda task: task.cancel_for_referrer(command.reason),
            command.traceparent,
            command.audit,
            visible=lambda stored: stored.requester_org == command.organisation,
            while_restricted=True,  # withdrawing it ends the processing
        )

    async def _change(
        self,
        referral_id: str,
        change: Callable[[ReferralTask], ReferralTask],
        traceparent: str | None,
        audit: AuditEntry | None,
        visible: Callable[[repo.StoredTask], bool] = lambda stored: True,
        while_restricted: bool = False,
    ) -> TaskChanged:
        now = self._clock()
        async with self._units() as uow:
            stored = await uow.tasks.lock(referral_id)
            if stored is None or not visible(stored):
                raise TaskNotVisible(referral_id)
            if not while_restricted:
                await refuse_if_restricted(uow, stored)
            after = replace(stored, task=change(stored.task))
            changed = await record_change(uow, self._topics, stored, after, now, traceparent)
            if audit is not None:
                uow.record(audit)
        log.info(
            "referral %s now %s %s (version %d)",
            referral_id,
            after.task.status,
            after.task.business_status,
            after.task.version,
        )
        return changed
