"""Each agency's statuses on a topic of its own (issue 17 part 4, docs/data-protection.md):
how the topic is named, who publishes there, and who may read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from hub_cli.kafka_acls import agency_grants, service_grants
from hub_common.agency_formats import inbound_sources
from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_common.messaging.topics import Topics, agency_label
from hub_intake.domain.events import ReferralAcceptedWithWarnings
from hub_intake.service_layer.unit_of_work import to_outgoing
from hub_notifier.adapters.notifications import LiveSubscription
from hub_notifier.domain.subscription import Channel
from hub_notifier.service_layer import unit_of_work as notifier_unit
from hub_notifier.service_layer.notifying import Announcer, Change

CVA = f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"
SUTTON = f"{AGENCY_ID_SYSTEM}|community:sutton-carers-centre"
GP = f"{ODS_SYSTEM}|A81001"
KAFKA_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def test_a_hub_agency_id_that_is_already_topic_safe_is_its_own_label() -> None:
    assert agency_label(f"{AGENCY_ID_SYSTEM}|metropolitan-police-service") == (
        "metropolitan-police-service"
    )


def test_an_id_that_had_to_change_keeps_a_readable_part_and_a_hash_of_the_whole() -> None:
    assert re.fullmatch(r"community-croydon-voluntary-action-[0-9a-f]{10}", agency_label(CVA))
    assert re.fullmatch(r"a81001-[0-9a-f]{10}", agency_label(GP))
    assert agency_label(GP) == agency_label(GP)  # stable: the same agency, the same topic


@pytest.mark.parametrize(
    "agencies",
    [
        # The same readable part, from different systems or spellings.
        (f"{ODS_SYSTEM}|A81001", f"{AGENCY_ID_SYSTEM}|A81001", f"{AGENCY_ID_SYSTEM}|a81001"),
        (f"{AGENCY_ID_SYSTEM}|community:a b", f"{AGENCY_ID_SYSTEM}|community:a-b"),
        (f"{AGENCY_ID_SYSTEM}|community-a-b", f"{AGENCY_ID_SYSTEM}|community:a-b"),
        # An id that already ends like a hash cannot pass for a changed one.
        (f"{AGENCY_ID_SYSTEM}|x-0123456789", f"{AGENCY_ID_SYSTEM}|x:0123456789"),
        (f"{AGENCY_ID_SYSTEM}|", f"{AGENCY_ID_SYSTEM}|:", "|"),
    ],
)
def test_two_agencies_never_share_a_label(agencies: tuple[str, ...]) -> None:
    labels = [agency_label(agency) for agency in agencies]
    assert len(set(labels)) == len(labels), labels
    assert agency_label(agencies[-1]) != agency_label(f"{agencies[-1]}x")


@pytest.mark.parametrize(
    "agency",
    [CVA, GP, "urn:x|" + "Ä" * 400, "|", f"{AGENCY_ID_SYSTEM}|../../etc", "no-bar-at-all"],
)
def test_every_status_topic_is_a_legal_kafka_name_the_hub_recognises(agency: str) -> None:
    topics = Topics("hub-test-0123456789abcdef.")
    for source in inbound_sources():
        topic = topics.agency_status(source, agency)
        assert KAFKA_TOPIC.fullmatch(topic), topic
        assert topic.startswith(f"{topics.status_prefix}{source}.")
        assert topics.is_agency_status(topic)
        assert not Topics("other.").is_agency_status(topic)


def test_there_is_no_shared_status_topic_any_more() -> None:
    topics = Topics()
    assert not any(name.startswith(topics.status_prefix) for name in topics.all())
    assert not any(topics.is_agency_status(name) for name in topics.all())
    assert not topics.is_agency_status("referrals.status.community")  # the retired one
    with pytest.raises(ValueError, match="unknown inbound source"):
        topics.agency_status("carrier-pigeon", CVA)


def test_an_agency_reads_its_own_status_topic_and_no_other() -> None:
    topics = Topics("p.")
    grants = agency_grants("cva", topics, "community", CVA, "p.")
    reads = [g for g in grants if g.resource == "topic" and "Read" in g.operations]
    assert [(g.names, g.pattern) for g in reads] == [
        ((topics.agency_status("community", CVA),), "literal")
    ]
    writes = [g for g in grants if "Write" in g.operations]
    assert [(g.names, g.pattern) for g in writes] == [((topics.inbound("community"),), "literal")]
    [group] = [g for g in grants if g.resource == "group"]
    assert (group.names, group.pattern, group.operations) == (
        ("p.agency.cva.",),
        "prefixed",
        ("Read",),
    )


def test_the_services_write_and_create_status_topics_by_prefix_and_never_read_them() -> None:
    topics = Topics("p.")
    grants = service_grants(topics, "p.")
    on_status = [g for g in grants if any(n.startswith("p.referrals.status") for n in g.names)]
    assert {(g.principal, g.names, g.pattern) for g in on_status} == {
        ("intake", ("p.referrals.status.",), "prefixed"),
        ("notifier", ("p.referrals.status.",), "prefixed"),
    }
    for grant in on_status:
        assert set(grant.operations) == {"Write", "Describe", "Create"}


def change(requester_org: str, source: str = "community") -> Change:
    return Change(
        referral_id="ref-1",
        status="accepted",
        business_status="offered",
        requester_org=requester_org,
        source=source,
        referrer_reference=None,
        message_back=None,
        email_to=None,
    )


def test_the_notifier_tells_each_message_subscriber_on_its_own_topic() -> None:
    topics = Topics("p.")
    announcer = Announcer(topics, "https://hub.example", "hub@example", lambda: datetime.now(UTC))
    now = datetime.now(UTC)

    def topic_for(agency: str, source: str = "community") -> str | None:
        subscription = LiveSubscription("sub-1", agency, Channel.MESSAGE.value, "active", 0)
        row, event = announcer._notification(subscription, 1, change(agency, source), now)
        return notifier_unit.to_outgoing(topics, event).topic if event else row["last_error"]

    assert topic_for(CVA) == topics.agency_status("community", CVA)
    assert topic_for(SUTTON) == topics.agency_status("community", SUTTON)
    assert topic_for(CVA) != topic_for(SUTTON)
    # An onward organisation has no source of agencies' topics: a visible dead letter.
    assert topic_for(CVA, source="onward") == "no status topic for this source"


def test_intake_tells_a_kafka_sender_its_warnings_on_its_own_topic() -> None:
    topics = Topics("p.")
    event = ReferralAcceptedWithWarnings(
        "community", CVA, "ref-1", {"resourceType": "OperationOutcome"}, None
    )
    assert to_outgoing(topics, event).topic == topics.agency_status("community", CVA)
