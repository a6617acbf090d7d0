"""Recording Task versions on the real database: a version announces its change once, however
many times, under whichever event ids, and in whatever batches it arrives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.messaging.topics import Topics
from hub_common.storage.db import make_engine, make_session_factory
from hub_notifier.adapters import orm
from hub_notifier.service_layer.notifying import Announcer, Change
from hub_notifier.service_layer.tracking import TrackingService
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import (
    STEPS,
    organisation,
    own_stack,
    service_request,
    task_versions,
)

pytestmark = pytest.mark.infra

CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")


class RecordingAnnouncer(Announcer):
    """Keeps the changes it is asked to announce, and stages nothing."""

    def __init__(self) -> None:
        super().__init__(Topics(), "http://notifier", "hub@example.org", lambda: datetime.now(UTC))
        self.changes: list[Change] = []

    async def announce_all(self, session: AsyncSession, changes: Sequence[Change]) -> int:
        self.changes.extend(changes)
        return len(changes)


@pytest.fixture
async def tracking(infra: Infrastructure) -> AsyncIterator[tuple[TrackingService, Any]]:
    stack, drop = await own_stack(infra)
    engine = make_engine(stack.database_url, pool_size=2)
    announcer = RecordingAnnouncer()
    try:
        yield TrackingService(make_session_factory(engine), announcer), announcer
    finally:
        await engine.dispose()
        await drop()


def statuses(changes: list[Change]) -> list[tuple[str, str]]:
    return [(change.referral_id, change.business_status) for change in changes]


async def test_a_duplicate_version_in_the_same_batch_is_announced_once(
    tracking: tuple[TrackingService, RecordingAnnouncer],
) -> None:
    service, announcer = tracking
    referral_id = str(uuid.uuid4())
    first, second = task_versions(referral_id, CVA, STEPS["completed"][:2])
    # The first version published again under a new event id lands in the same batch.
    await service.record_tasks(
        [
            (first, str(uuid.uuid4()), None),
            (first, str(uuid.uuid4()), None),
            (second, str(uuid.uuid4()), None),
        ]
    )
    assert statuses(announcer.changes) == [(referral_id, "offered"), (referral_id, "allocated")]


async def test_a_duplicate_version_in_a_later_batch_is_not_announced(
    tracking: tuple[TrackingService, RecordingAnnouncer],
) -> None:
    service, announcer = tracking
    referral_id = str(uuid.uuid4())
    [first] = task_versions(referral_id, CVA, STEPS["completed"][:1])
    event_id = str(uuid.uuid4())
    await service.record_tasks([(first, event_id, None)])
    await service.record_tasks([(first, event_id, None)])  # redelivered: same event id
    await service.record_tasks([(first, str(uuid.uuid4()), None)])  # republished: new event id
    assert statuses(announcer.changes) == [(referral_id, "offered")]


async def test_a_later_service_request_version_replaces_the_kept_one_never_the_reverse(
    tracking: tuple[TrackingService, RecordingAnnouncer],
) -> None:
    """A referrer's amendment and cancellation (BaRS) are later versions of the ServiceRequest:
    the notifier keeps the latest, and an older one arriving again changes nothing."""
    service, _ = tracking
    referral_id = str(uuid.uuid4())
    first = service_request(referral_id, CVA)
    amended = {**first, "meta": {"versionId": "2"}, "note": [{"text": "amended"}]}
    cancelled = {**amended, "meta": {"versionId": "3"}, "status": "revoked"}
    await service.record_requests([(first, str(uuid.uuid4()))])
    await service.record_requests([(amended, str(uuid.uuid4()))])
    await service.record_requests([(cancelled, str(uuid.uuid4()))])
    await service.record_requests([(amended, str(uuid.uuid4()))])  # republished late
    async with service._sessions() as session:
        kept = await session.scalar(
            select(orm.service_requests.c.resource).where(
                orm.service_requests.c.referral_id == referral_id
            )
        )
    assert (kept["meta"]["versionId"], kept["status"]) == ("3", "revoked")
