"""The one way to consume: combinations that would break per-key order are refused when the
service starts, not discovered in production; records are checked against their message type;
every AsyncAPI channel shows its payload schema."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker

from hub_cli.main import contract_documents
from hub_common.messaging import consuming
from hub_common.messaging.consuming import (
    POLL_WAIT_MS,
    Decoder,
    Delivery,
    LongPollBatchSubscriber,
    subscribe,
)
from hub_common.messaging.failures import PermanentError
from hub_common.messaging.messages import (
    AlertMessage,
    AuditMessage,
    BundleMessage,
    PractitionerRoleMessage,
    RejectedMessage,
    ServiceRequestMessage,
    TaskMessage,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


async def apply(value: Any, delivery: Delivery) -> None:
    return None


async def apply_batch(batch: list[tuple[Any, Delivery]]) -> None:
    return None


def test_a_consumer_of_tombstones_cannot_take_its_messages_as_a_batch() -> None:
    with pytest.raises(ValueError, match="one by one"):
        subscribe(
            KafkaBroker("127.0.0.1:9"),  # never connected: registration only
            topics="linkworkers.directory",
            group_id="router",
            message=dict,
            description="directory",
            apply=apply,
            tombstones=True,
            apply_batch=apply_batch,
        )


def test_either_alone_is_accepted() -> None:
    broker = KafkaBroker("127.0.0.1:9")
    common: dict[str, Any] = {
        "group_id": "router",
        "description": "d",
        "apply": apply,
        "message": dict,
    }
    subscribe(broker, topics="a", tombstones=True, **common)
    subscribe(broker, topics="b", apply_batch=apply_batch, **common)
    assert len(broker.subscribers) == 2


# Typed messages: a record that does not fit its type is refused naming the field, never
# quoting the value (it may be personal data).


def test_a_message_of_the_wrong_shape_is_refused_naming_the_field_not_the_value() -> None:
    decode = Decoder(TaskMessage)
    with pytest.raises(PermanentError) as refused:
        decode(b'{"resourceType": "Patient", "id": "t-1", "name": [{"family": "Hartley"}]}')
    assert "resourceType" in str(refused.value)
    assert "Hartley" not in str(refused.value) and "Patient" not in str(refused.value)

    with pytest.raises(PermanentError, match="referralId"):
        Decoder(AlertMessage)(b'{"alert": "sla-breach", "raisedAt": "2026-11-23T09:30:00Z"}')


def test_a_message_that_fits_reaches_the_handler_whole() -> None:
    task = Decoder(TaskMessage)(
        b'{"resourceType": "Task", "id": "t-1", "meta": {"versionId": "3"}, "status": "ready"}'
    )
    # Every element the type does not name passes through, as the FHIR code reads it.
    assert task.value == {
        "resourceType": "Task",
        "id": "t-1",
        "meta": {"versionId": "3"},
        "status": "ready",
    }


def test_records_that_are_not_json_or_empty_are_refused() -> None:
    for value in (b"{not json", b"", None, b"[1, 2]"):
        with pytest.raises(PermanentError):
            Decoder(TaskMessage)(value)


def test_an_agency_format_is_taken_as_it_came() -> None:
    assert Decoder(bytes)(b"form_id,person\n1,x") == b"form_id,person\n1,x"
    assert Decoder(bytes)(None) == b""


@pytest.mark.parametrize(
    ("example", "message"),
    [
        ("referrals.requested.json", ServiceRequestMessage),
        ("referrals.tasks.json", TaskMessage),
        ("referrals.rejected.json", RejectedMessage),
        ("hub.audit.json", AuditMessage),
        ("linkworkers.directory.json", PractitionerRoleMessage),
        ("directory.services.json", BundleMessage),
    ],
)
def test_the_published_examples_fit_their_message_types(example: str, message: Any) -> None:
    raw = (EXAMPLES / example).read_bytes()
    assert Decoder(message)(raw).value == json.loads(raw)


def test_every_channel_of_every_asyncapi_document_shows_its_payload_schema() -> None:
    for relative, document in contract_documents().items():
        if not relative.startswith("asyncapi/"):
            continue
        schemas = document["components"]["schemas"]
        for name, message in document["components"]["messages"].items():
            ref = message["payload"].get("$ref", "")
            payload = schemas[ref.rsplit("/", 1)[-1]] if ref else message["payload"]
            assert payload.get("type") != "null", f"{relative}: {name} has no payload schema"
            shown = ("$ref", "properties", "anyOf", "format")
            assert any(payload.get(key) for key in shown), f"{relative}: {name}: {payload}"


# Long polls: an idle subscriber waits on the broker, and never sleeps on top of its wait.


class IdleConsumer:
    """A consumer with nothing to fetch: each poll waits its whole timeout, as aiokafka's does."""

    def __init__(self) -> None:
        self.waits: list[int] = []

    async def getmany(self, *partitions: Any, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        self.waits.append(timeout_ms)
        await asyncio.sleep(timeout_ms / 1000)
        return {}


class BusyConsumer:
    async def getmany(self, *partitions: Any, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        return {"p0": ["r1", "r2"], "p1": ["r3"]}


def registered(broker: KafkaBroker) -> Any:
    subscribe(broker, topics="a", group_id="g", message=dict, description="d", apply=apply)
    return broker.subscribers[-1]


async def test_an_idle_subscriber_waits_on_the_broker_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A short wait, so the test does not sit out the real one; the mechanism is the same.
    monkeypatch.setattr(consuming, "POLL_WAIT_MS", 200)
    subscriber = registered(KafkaBroker("127.0.0.1:9"))
    assert isinstance(subscriber, LongPollBatchSubscriber)
    consumer = IdleConsumer()
    started = asyncio.get_running_loop().time()
    assert await subscriber.get_msg(consumer) == ()
    took = asyncio.get_running_loop().time() - started
    # One long poll (FastStream's own subscriber sleeps as long again after an empty one).
    assert consumer.waits == [200]
    assert took < 0.2 * 1.5


def test_every_level_of_an_idle_subscriber_waits_the_long_poll() -> None:
    """The broker's fetch, aiokafka's background fetcher and the subscriber's poll all wait
    POLL_WAIT_MS: left at aiokafka's defaults, the fetcher alone woke each consumer five times
    a second and the fetches twice, for nothing."""
    options = registered(KafkaBroker("127.0.0.1:9"))._connection_args
    assert options["fetch_max_wait_ms"] == POLL_WAIT_MS
    assert options["consumer_timeout_ms"] == POLL_WAIT_MS
    # Seconds, so an idle service stays quiet; yet well inside the time aiokafka gives a
    # request (a fetch waiting longer would fail and reconnect) and the group's session.
    assert POLL_WAIT_MS >= 2000
    request_timeout = inspect.signature(AIOKafkaConsumer).parameters["request_timeout_ms"]
    assert request_timeout.default / 4 >= POLL_WAIT_MS
    assert options["session_timeout_ms"] > POLL_WAIT_MS


async def test_a_poll_with_records_returns_them_all_in_order() -> None:
    subscriber = registered(KafkaBroker("127.0.0.1:9"))
    assert await subscriber.get_msg(BusyConsumer()) == ("r1", "r2", "r3")


def test_a_refused_csv_row_fits_the_rejected_message_type() -> None:
    """A CSV batch names the refused record ("row 3"): intake's own event for it must pass the
    notifier's type check, or the referrer is never told of the refusal."""
    from datetime import UTC, datetime

    from hub_common.jsonio import dumps
    from hub_intake.adapters.formats.base import Reading, ReferrerContact
    from hub_intake.service_layer.intake_events import rejection_event

    reading = Reading("HA-3", {"nhs_number": "123"}, ReferrerContact(), item="row 3")
    event = rejection_event("housing", datetime.now(UTC), reading, "rej-1")
    assert Decoder(RejectedMessage)(dumps(event)).value["item"] == "row 3"
