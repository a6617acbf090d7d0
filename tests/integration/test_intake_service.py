"""The intake service layer on the real database: same-person linking and replaying rejections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, EPISODE_EXTENSION_URL
from hub_common.messaging.topics import Topics
from hub_common.storage.db import make_engine, make_session_factory
from hub_intake.adapters import orm
from hub_intake.adapters.formats import registered_formats
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.public import IntakeSettings, replay_rejected
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService
from hub_intake.service_layer.outcomes import Outcome
from hub_intake.service_layer.replay import replay_rejections
from tests.support.fixtures import inbound
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra


@pytest.fixture
async def sessions(stack: IsolatedStack) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(stack.database_url, pool_size=2)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def service(stack: IsolatedStack, sessions: async_sessionmaker[AsyncSession]) -> IntakeService:
    return IntakeService(sessions, registered_formats(), Topics(stack.topic_prefix))


def community(form_id: str, organisation: str | None = None, **person: object) -> bytes:
    document = json.loads(inbound("community-referral.json"))
    document["form_id"] = form_id
    document["person"].update(person)
    if organisation:
        document["referrer"]["organisation"] = organisation
    return json.dumps(document).encode()


async def episode_of(sessions: async_sessionmaker[AsyncSession], referral_id: str) -> str:
    async with sessions() as session:
        request = await session.scalar(
            select(orm.referrals.c.service_request).where(
                orm.referrals.c.referral_id == referral_id
            )
        )
    return next(e["valueString"] for e in request["extension"] if e["url"] == EPISODE_EXTENSION_URL)


def receive(body: bytes) -> ReceiveReferrals:
    return ReceiveReferrals("community", body, datetime.now(UTC))


async def test_referrals_of_the_same_person_share_an_episode(
    service: IntakeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [first] = await service.receive(
        receive(community("EP-1", family_name="Okafor", date_of_birth="1950-01-02"))
    )
    # Another agency, the name written differently, the same person (name + birth date + postcode).
    [second] = await service.receive(
        receive(community("EP-2", family_name=" OKAFOR ", date_of_birth="02/01/1950"))
    )
    [stranger] = await service.receive(
        receive(community("EP-3", family_name="Okafor", date_of_birth="1951-01-02"))
    )
    assert first.status == second.status == stranger.status == "accepted"
    episode = await episode_of(sessions, first.referral_id or "")
    assert episode == first.referral_id
    assert await episode_of(sessions, second.referral_id or "") == episode
    assert await episode_of(sessions, stranger.referral_id or "") != episode


async def test_a_set_aside_message_can_be_replayed_once(
    stack: IsolatedStack, service: IntakeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    command = receive(community("REPLAY-1", family_name="Replay"))
    await service.record_unprocessable(command, "RuntimeError")
    progress: list[tuple[int, int]] = []
    report = await replay_rejections(
        sessions, service, "community", on_progress=lambda *step: progress.append(step)
    )
    assert (report.tried, report.accepted) == (1, 1)
    assert progress == [(0, 1), (1, 1)]  # the CLI's bar: the total first, then each one
    again = await replay_rejections(sessions, service, "community")
    assert again.tried == 0
    [resent] = await service.receive(command)
    assert resent.status == "duplicate"  # the replay created the referral

    # The operator's command runs it through intake's public module, with its own engine.
    later = receive(community("REPLAY-2", family_name="Replay"))
    await service.record_unprocessable(later, "RuntimeError")
    settings = IntakeSettings.model_validate(
        {"database_url": stack.database_url, "topic_prefix": stack.topic_prefix}
    )
    by_command = await replay_rejected("community", settings=settings)
    assert (by_command.tried, by_command.accepted) == (1, 1)  # the new one only
    [resent] = await service.receive(later)
    assert resent.status == "duplicate"


async def test_two_replicas_given_the_same_batch_record_each_referral_once_under_one_id(
    stack: IsolatedStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A batch's referrals are inserted together at its end; when another replica recorded
    some of them meanwhile, the batch is redone one message at a time and answers with the
    ids already given."""
    replicas = [
        IntakeService(sessions, registered_formats(), Topics(stack.topic_prefix)) for _ in (1, 2)
    ]
    batch = [receive(community(f"RACE-{n:03d}", family_name=f"Race{n}")) for n in range(30)]
    first, second = await asyncio.gather(*(replica.receive_batch(batch) for replica in replicas))
    ids = []
    for results in (first, second):
        outcomes = [outcome for result in results for outcome in result]  # type: ignore[union-attr]
        assert len(outcomes) == 30
        ids.append([outcome.referral_id for outcome in outcomes])
    assert ids[0] == ids[1], "the replicas answered different ids for one referral"
    async with sessions() as session:
        stored = (
            await session.scalars(
                select(orm.referrals.c.referral_id).where(
                    orm.referrals.c.referrer_reference.like("RACE-%")
                )
            )
        ).all()
    assert sorted(stored) == sorted(ids[0])


CVA = f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"
SUTTON = f"{AGENCY_ID_SYSTEM}|community:sutton-carers-centre"


def sent_by(agency: str | None, body: bytes) -> ReceiveReferrals:
    """A message as intake's HTTP API passes it on: its sender named by the credential."""
    return ReceiveReferrals("community", body, datetime.now(UTC), agency=agency)


def assert_reference_clash(outcome: Outcome) -> None:
    assert outcome.status == "rejected" and outcome.referral_id is None
    [issue] = outcome.outcome["issue"]
    assert issue["code"] == "duplicate"
    assert issue["expression"] == ["(reference)"]
    assert "reference of your own" in issue["diagnostics"]


async def test_another_organisations_reference_is_refused_not_taken_for_a_resend(
    stack: IsolatedStack, service: IntakeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [first] = await service.receive(sent_by(CVA, community("CLASH-1")))
    [resent] = await service.receive(sent_by(CVA, community("CLASH-1")))
    [other] = await service.receive(sent_by(SUTTON, community("CLASH-1")))
    assert first.status == "accepted"
    assert (resent.status, resent.referral_id) == ("duplicate", first.referral_id)
    assert_reference_clash(other)
    # The refusal is addressed to whoever sent it, by credential, not by the payload's name.
    refusals, _ = await refusals_told(stack, sessions, "CLASH-1", source="community")
    assert [refusal["agency"] for refusal in refusals] == [SUTTON]


async def test_a_reference_clash_inside_one_batch_is_refused_too(service: IntakeService) -> None:
    # All in one transaction: the second meets the first in what the batch knows, not in the
    # database.
    results = await service.receive_batch(
        [
            sent_by(CVA, community("CLASH-2")),
            sent_by(SUTTON, community("CLASH-2")),
            sent_by(CVA, community("CLASH-2")),
        ]
    )
    [first], [other], [resent] = results  # type: ignore[misc]
    assert first.status == "accepted"
    assert_reference_clash(other)
    assert (resent.status, resent.referral_id) == ("duplicate", first.referral_id)


async def test_senders_known_only_by_a_name_in_the_payload_are_not_told_apart(
    service: IntakeService,
) -> None:
    # Over Kafka, without an ODS code, only the payload names the organisation, and one
    # organisation may write its name two ways: refusing its resend would have it send the
    # person again under a new reference. A resend it stays, as it does when the organisation
    # later sends the same referral over HTTP.
    [first] = await service.receive(receive(community("NAMED-1", "Croydon Voluntary Action")))
    [renamed] = await service.receive(receive(community("NAMED-1", "CVA (Croydon)")))
    [over_http] = await service.receive(sent_by(CVA, community("NAMED-1")))
    assert first.status == "accepted"
    assert {renamed.referral_id, over_http.referral_id} == {first.referral_id}
    assert renamed.status == over_http.status == "duplicate"


def housing_file(tag: str) -> ReceiveReferrals:
    """A landlord's file of two rows: CLN-<tag>, good, then WHA-<tag>, refused (no consent).
    The bad row is the second: replayed, it comes back as a one-row document of its own, which
    reads differently (another row number, empty cells as "")."""
    [header, good, bad] = inbound("housing-tenancy-referrals.csv").decode().splitlines()[:3]
    good = good.replace("CLN-77812", f"CLN-{tag}")
    bad = bad.replace("WHA-00931", f"WHA-{tag}").replace(",Y,", ",N,")
    return ReceiveReferrals("housing", "\n".join([header, good, bad]).encode(), datetime.now(UTC))


async def refusals_told(
    stack: IsolatedStack,
    sessions: async_sessionmaker[AsyncSession],
    reference: str,
    source: str = "housing",
) -> tuple[list[dict[str, Any]], int]:
    """The rejections recorded under a referrer's reference, and the rejected events staged."""
    async with sessions() as session:
        refusals = (
            await session.scalars(
                select(orm.rejections.c.event).where(
                    orm.rejections.c.referrer_reference == reference
                )
            )
        ).all()
        events = await session.scalar(
            select(func.count())
            .select_from(orm.outbox)
            .where(
                orm.outbox.c.topic == Topics(stack.topic_prefix).rejected,
                orm.outbox.c.key == f"{source}:{reference}",
            )
        )
    return list(refusals), int(events or 0)


async def test_replaying_a_housing_row_that_still_fails_tells_nobody_twice(
    stack: IsolatedStack, service: IntakeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    outcomes = await service.receive(housing_file("REPLAY"))
    assert [o.status for o in outcomes] == ["accepted", "rejected"]

    report = await replay_rejections(sessions, service, "housing")
    assert report.still_rejected >= 1
    refusals, events = await refusals_told(stack, sessions, "WHA-REPLAY")
    assert (len(refusals), events) == (1, 1)


async def test_replaying_a_set_aside_file_records_the_refusals_it_finally_reads(
    stack: IsolatedStack, service: IntakeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # The whole file was set aside unread; read at last, one row is refused for a reason of
    # its own, news to its referrer, who is told.
    await service.record_unprocessable(housing_file("ASIDE"), "RuntimeError")

    await replay_rejections(sessions, service, "housing")
    [refusal], events = await refusals_told(stack, sessions, "WHA-ASIDE")
    assert any("consent" in " ".join(i["expression"]) for i in refusal["outcome"]["issue"])
    assert events == 1


async def set_aside_issues(
    sessions: async_sessionmaker[AsyncSession], body: bytes
) -> list[dict[str, Any]]:
    """The issues of the rejection recorded for a message set aside unread (by its bytes)."""
    async with sessions() as session:
        events = (
            await session.scalars(
                select(orm.rejections.c.event).where(orm.rejections.c.source == "community")
            )
        ).all()
    [event] = [e for e in events if e.get("original") == body.decode()]
    issues: list[dict[str, Any]] = event["outcome"]["issue"]
    return issues


async def test_an_unknown_schema_version_is_recorded_naming_schema(
    service: IntakeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    document = json.loads(community("SCHEMA-9"))
    document["schema"] = "community-referral/9"
    body = json.dumps(document).encode()
    with pytest.raises(UnreadableMessage):
        await service.receive(receive(body))
    [issue] = await set_aside_issues(sessions, body)
    assert issue["expression"] == ["schema"]
    assert issue["diagnostics"] == (
        "unknown schema version 'community-referral/9'; this hub accepts community-referral/1"
    )


async def test_a_message_over_the_agency_limit_is_recorded_as_too_large(
    stack: IsolatedStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Kafka takes a little more than the limit (room for key and headers): intake refuses it."""
    body = community("TOO-LARGE-1")
    limited = IntakeService(
        sessions, registered_formats(), Topics(stack.topic_prefix), max_message_bytes=len(body) - 1
    )
    with pytest.raises(UnreadableMessage, match=f"larger than {len(body) - 1} bytes"):
        await limited.receive(receive(body))
    [issue] = await set_aside_issues(sessions, body)
    assert issue["diagnostics"].startswith(f"the message is larger than {len(body) - 1} bytes")
    at_the_limit = IntakeService(
        sessions, registered_formats(), Topics(stack.topic_prefix), max_message_bytes=len(body)
    )
    [outcome] = await at_the_limit.receive(receive(community("TOO-LARGE-2")))
    assert outcome.status == "accepted"
