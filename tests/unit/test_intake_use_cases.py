"""Intake's use cases on its units of work kept in memory (tests/support/fake_intake.py): what
gets recorded, refused, replayed and staged for publication, without PostgreSQL. The same use cases on
the real database: tests/integration/test_intake_service.py and the chaos and crash tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from hub_common.jsonio import dumps
from hub_common.messaging.topics import Topics
from hub_common.privacy.data_protection import DataProtectionRequest
from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.formats.base import InboundFormat, Reading
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.data_protection import IntakeDataProtection
from hub_intake.service_layer.intake import IntakeService
from hub_intake.service_layer.outcomes import Outcome
from hub_intake.service_layer.replay import replay_rejections
from tests.support.fake_intake import FakeIntakeUnitOfWork, MemoryTables, memory_changes
from tests.support.fixtures import inbound

TOPICS = Topics("t")


class _Broken:
    """A format whose reader trips over a bug (not a refusal): the message is poison."""

    source = "broken"
    media_type = "application/json"
    versions = None

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        raise RuntimeError("a bug in a reader")


@pytest.fixture
def tables() -> MemoryTables:
    return MemoryTables()


@pytest.fixture
def service(tables: MemoryTables) -> IntakeService:
    formats: dict[str, InboundFormat] = {**registered_formats(), "broken": _Broken()}
    return IntakeService(
        None,  # type: ignore[arg-type]  # no database: the unit of work is in memory
        formats,
        TOPICS,
        units=lambda wanted: FakeIntakeUnitOfWork(tables, TOPICS, wanted),
    )


def community(form_id: str, **person: object) -> bytes:
    document = json.loads(inbound("community-referral.json"))
    document["form_id"] = form_id
    document["person"].update(person)
    return json.dumps(document).encode()


def message(body: bytes, source: str = "community") -> ReceiveReferrals:
    return ReceiveReferrals(source, body, datetime.now(UTC))


def topics_of(tables: MemoryTables) -> list[str]:
    return [event.topic for event in tables.outbox]


async def test_an_accepted_referral_is_recorded_with_its_event_in_one_commit(
    service: IntakeService, tables: MemoryTables
) -> None:
    [outcome] = await service.receive(message(community("F-1")))
    assert outcome.status == "accepted"
    assert [row["referral_id"] for row in tables.referrals.values()] == [outcome.referral_id]
    assert topics_of(tables) == [TOPICS.requested]
    [event] = tables.outbox  # the typed ReferralRequested, as the unit of work publishes it
    assert (event.key, event.envelope.event_type) == (outcome.referral_id, "ReferralRequested")
    assert json.loads(event.value)["id"] == outcome.referral_id
    assert tables.commits == 1


async def test_a_resend_is_the_same_referral_and_publishes_nothing(
    service: IntakeService, tables: MemoryTables
) -> None:
    [first] = await service.receive(message(community("F-2")))
    [again] = await service.receive(message(community("F-2")))
    assert (again.status, again.referral_id) == ("duplicate", first.referral_id)
    assert topics_of(tables) == [TOPICS.requested]


async def test_one_batch_knows_what_it_recorded_itself(
    service: IntakeService, tables: MemoryTables
) -> None:
    results = await service.receive_batch(
        [message(community("F-3")), message(community("F-3")), message(community("F-4"))]
    )
    first, again, other = (_only(result) for result in results)
    assert again.status == "duplicate" and again.referral_id == first.referral_id
    assert other.status == "accepted" and len(tables.referrals) == 2
    assert tables.commits == 1


async def test_a_poison_message_is_set_aside_alone_and_the_batch_commits(
    service: IntakeService, tables: MemoryTables
) -> None:
    results = await service.receive_batch(
        [message(community("F-5")), message(b"{}", "broken"), message(community("F-6"))]
    )
    assert isinstance(results[1], RuntimeError)
    assert [_only(results[0]).status, _only(results[2]).status] == ["accepted", "accepted"]
    [set_aside] = tables.rejections.values()
    assert "RuntimeError" in json.dumps(set_aside["event"]["outcome"])
    assert sorted(topics_of(tables)) == sorted([TOPICS.requested] * 2 + [TOPICS.rejected])
    assert len(tables.referrals) == 2  # each once, though the batch was taken twice
    assert tables.commits == 1


async def test_an_unreadable_message_is_refused_naming_what_is_wrong(
    service: IntakeService, tables: MemoryTables
) -> None:
    [result] = await service.receive_batch([message(b"not json at all")])
    assert isinstance(result, Exception)
    [rejection] = tables.rejections.values()
    assert rejection["event"]["original"] == "not json at all"
    assert topics_of(tables) == [TOPICS.rejected]


async def test_a_refusal_is_recorded_once_however_often_it_is_sent(
    service: IntakeService, tables: MemoryTables
) -> None:
    refused = community("F-7", postcode="EH1 1YZ")  # outside the service area
    for _ in range(2):
        [outcome] = await service.receive(message(refused))
        assert outcome.status == "rejected"
    assert len(tables.rejections) == 1 and topics_of(tables) == [TOPICS.rejected]
    assert tables.outbox[0].envelope.event_type == "ReferralRejected"


def _only(result: Sequence[Outcome] | Exception) -> Outcome:
    assert not isinstance(result, Exception), result
    [outcome] = result
    return outcome


async def test_replay_accepts_what_now_reads_and_leaves_what_still_fails(
    service: IntakeService, tables: MemoryTables
) -> None:
    fixed, still = community("F-8", postcode="EH1 1YZ"), community("F-9", postcode="EH2 2YZ")
    for body in (fixed, still):
        await service.receive(message(body))
    # The fix: the first one's document now reads (a corrected district, say).
    first = next(r for r in tables.rejections.values() if b"F-8" in dumps(r["event"]))
    first["event"]["original"]["person"]["postcode"] = "CR7 8LD"
    changes = memory_changes(tables)
    report = await replay_rejections(None, service, "community", changes=changes)
    assert (report.tried, report.accepted, report.still_rejected) == (2, 1, 1)
    replayed = {r["rejection_id"]: r["replayed_at"] for r in tables.rejections.values()}
    assert replayed[first["rejection_id"]] is not None and len(tables.referrals) == 1
    assert [e.envelope.event_type for e in tables.outbox][-1] == "ReferralRequested"
    again = await replay_rejections(None, service, "community", changes=changes)
    assert (again.tried, again.accepted) == (1, 0)  # only the one still failing


async def test_a_restriction_is_answered_once_and_asks_intake_for_nothing_else(
    tables: MemoryTables,
) -> None:
    protection = IntakeDataProtection(None, TOPICS, {}, "g", changes=memory_changes(tables))
    request = DataProtectionRequest("restrict", ("r-1",))
    await protection.apply(request, "event-1")
    await protection.apply(request, "event-1")  # a redelivery
    [applied] = tables.outbox
    assert applied.topic == TOPICS.data_protection and applied.key == request.request_id
    assert json.loads(applied.value)["service"] == "intake"
    assert tables.commits == 2  # the redelivery's transaction recorded nothing
