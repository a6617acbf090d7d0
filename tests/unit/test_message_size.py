"""One setting, HUB_AGENCY_MESSAGE_MAX_BYTES, sizes an agency message on both paths: intake's
HTTP body limit, and the inbound topics' max.message.bytes when topics are ensured."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub_cli import main as cli
from hub_common.agency_formats import inbound_sources
from hub_common.messaging.kafka import RECORD_ALLOWANCE, max_record_bytes, topic_configs
from hub_common.security.auth import Principal, issue_token
from hub_common.settings import DEFAULT_AGENCY_MESSAGE_MAX_BYTES, InfraSettings
from hub_intake.bootstrap import build_app
from hub_intake.config import IntakeSettings

LIMIT = 5_000


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_AGENCY_MESSAGE_MAX_BYTES", str(LIMIT))


def agency_token(settings: IntakeSettings) -> dict[str, str]:
    principal = Principal("agency", "cva", organisation="https://example.org/agencies|cva")
    return {"Authorization": f"Bearer {issue_token(settings.auth_secret, principal, 600)}"}


async def post(settings: IntakeSettings, **request: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_app(settings))  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        return await client.post("/referrals/community", **request)


def refused_as_too_large(answer: httpx.Response) -> None:
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/fhir+json"
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    assert (issue["severity"], issue["code"], issue["expression"]) == (
        "error",
        "too-long",
        ["(body)"],
    )
    assert issue["diagnostics"] == (
        f"the body is larger than {LIMIT} bytes, the largest agency message the hub takes, "
        "over HTTP or Kafka; send a large housing file as several smaller ones"
    )


@pytest.mark.usefixtures("limited")
async def test_a_declared_body_over_the_setting_is_refused_with_a_clear_413() -> None:
    settings = IntakeSettings()
    refused_as_too_large(await post(settings, content=b"{" + b" " * LIMIT + b"}"))


@pytest.mark.usefixtures("limited")
async def test_a_streamed_body_over_the_setting_is_refused_with_a_clear_413() -> None:
    settings = IntakeSettings()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(LIMIT // 1000 + 1):
            yield b" " * 1000

    answer = await post(settings, content=chunks(), headers=agency_token(settings))
    refused_as_too_large(answer)


@pytest.mark.usefixtures("limited")
def test_the_inbound_topics_are_sized_from_the_same_setting() -> None:
    settings = InfraSettings()
    assert settings.agency_message_max_bytes == IntakeSettings().agency_message_max_bytes == LIMIT
    topics = settings.topics
    for source in inbound_sources():
        configs = topic_configs(topics, topics.inbound(source), settings.agency_message_max_bytes)
        assert configs["max.message.bytes"] == str(LIMIT + RECORD_ALLOWANCE)
    # Only agencies' topics: the hub's own events keep the broker's default size.
    assert "max.message.bytes" not in topic_configs(topics, topics.requested, LIMIT)
    assert topic_configs(topics, topics.directory, LIMIT) == {"cleanup.policy": "compact"}


@pytest.mark.usefixtures("limited")
async def test_topics_ensure_passes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def ensure_topics(kafka: Any, topics: Any, **options: Any) -> list[str]:
        seen.update(options)
        return []

    monkeypatch.setattr(cli, "ensure_topics", ensure_topics)
    await cli.topics_ensure(InfraSettings())
    assert seen["agency_message_max_bytes"] == LIMIT


def test_the_default_limit_leaves_room_under_a_default_kafka_producer() -> None:
    # A producer with the Java or aiokafka default max.request.size (1 MiB) can still send
    # the largest message the hub takes, with its key and headers.
    assert InfraSettings().agency_message_max_bytes == DEFAULT_AGENCY_MESSAGE_MAX_BYTES
    assert max_record_bytes(DEFAULT_AGENCY_MESSAGE_MAX_BYTES) <= 1_048_576


def test_the_old_intake_only_setting_is_gone() -> None:
    assert "max_body_bytes" not in IntakeSettings.model_fields


def test_the_contract_documents_state_the_limit() -> None:
    documents = cli.contract_documents()
    asyncapi = json.dumps(documents["asyncapi/intake.json"])
    assert (
        f"at most {DEFAULT_AGENCY_MESSAGE_MAX_BYTES} bytes (HUB_AGENCY_MESSAGE_MAX_BYTES)"
        in asyncapi
    )
    assert f"max.message.bytes is {max_record_bytes(DEFAULT_AGENCY_MESSAGE_MAX_BYTES)}" in asyncapi
    openapi = json.dumps(documents["openapi/intake.json"])
    assert (
        f"larger than {DEFAULT_AGENCY_MESSAGE_MAX_BYTES} bytes, the largest agency message"
        in openapi
    )
