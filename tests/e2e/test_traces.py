"""Issue 16's traces on the real stack (Kafka, PostgreSQL, each service a process, a real
OTLP/HTTP receiver): one agency message becomes one trace, from the agency's own span through
intake, the outbox relays, the router and the notifier to the POST on the referrer's webhook,
each span the parent of the next; and every log line is JSON, the referral's lines carrying
its trace id. An API request continues its caller's trace the same way."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.credentials import CVA, agency_token, bearer
from tests.support.fixtures import FIXTURES, inbound
from tests.support.kafka_io import publish
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.infra

TOPIC = "https://referral-hub.org/fhir/SubscriptionTopic/referral-task"


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpReceiver]:
    found = OtlpReceiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, collector: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    env = {
        **stack.env(),
        "NOTIFIER_ALLOW_HTTP_ENDPOINTS": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds: spans reach the receiver quickly
    }
    with running_hub(env, tmp_path_factory.mktemp("traces")) as running:
        yield running


def chain_up(spans: list[ReceivedSpan], last: ReceivedSpan) -> list[ReceivedSpan]:
    """`last` and its ancestors among `spans`, root first, up to the first parent not there."""
    by_id = {span.span_id: span for span in spans}
    chain = [last]
    while (parent := by_id.get(chain[-1].parent_span_id)) is not None:
        assert parent not in chain, f"a cycle in the parent links: {chain}"
        chain.append(parent)
    return chain[::-1]


async def test_an_agency_message_is_one_trace_to_the_referrers_webhook(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    collector: OtlpReceiver,
    webhook: WebhookReceiver,
) -> None:
    started = time.monotonic()
    assert "published 3 link workers" in run_cli(
        stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv")
    )
    # An API call continues its caller's trace too.
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    async with httpx.AsyncClient(timeout=15.0) as client:
        made = await client.post(
            f"{services['notifier'].url}/fhir/Subscription",
            json={
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "our referrals",
                "criteria": TOPIC,
                "channel": {
                    "type": "rest-hook",
                    "endpoint": webhook.url("/cva"),
                    "payload": "application/fhir+json",
                },
            },
            headers={
                **bearer(agency_token(stack, CVA)),
                "traceparent": f"00-{caller_trace}-{caller_span}-01",
            },
        )
        assert made.status_code == 201, made.text
    await asyncio.sleep(1.0)  # let the router apply the roster before the referral arrives

    # The agency's own system traces its send: the hub continues that trace.
    trace_id, agency_span = secrets.token_hex(16), secrets.token_hex(8)
    await publish(
        stack.kafka_bootstrap_servers,
        stack.topics.inbound("community"),
        inbound("community-referral.json"),
        key=f"traces-{stack.topic_prefix[-8:]}",
        headers=[("traceparent", f"00-{trace_id}-{agency_span}-01".encode())],
    )

    deadline = time.monotonic() + 30
    while not (posts := [r for r in webhook.requests if b"event-notification" in r.body]):
        assert time.monotonic() < deadline, (
            f"no event notification reached the webhook ({len(webhook.requests)} requests)\n"
            + services["notifier"].tail()
        )
        await asyncio.sleep(0.2)
    # A referral over HTTP: intake's server span stages its event, the relay publishes it.
    http_trace, http_caller = secrets.token_hex(16), secrets.token_hex(8)
    async with httpx.AsyncClient(timeout=15.0) as client:
        sent = await client.post(
            f"{services['intake'].url}/referrals/community",
            content=example("community", f"-HTTP{stack.topic_prefix[-6:]}"),
            headers={
                **bearer(agency_token(stack, CVA)),
                "Content-Type": "application/json",
                "traceparent": f"00-{http_trace}-{http_caller}-01",
            },
        )
        assert sent.status_code == 202, sent.text
    while not [s for s in collector.of_trace(http_trace) if s.kind == "PRODUCER"]:
        assert time.monotonic() < deadline + 20, "intake never published the HTTP referral"
        await asyncio.sleep(0.2)
    header = posts[0].headers.get("traceparent", "")
    assert header.split("-")[1:2] == [trace_id], f"the webhook POST is in another trace: {header}"
    for process in services.values():
        process.stop()  # each exports what it has batched on the way out

    assert collector.refused == [], collector.refused
    spans = collector.of_trace(trace_id)
    [post] = [s for s in spans if s.kind == "CLIENT" and s.span_id == header.split("-")[2]]
    chain = chain_up(spans, post)
    topics = stack.topics
    assert [(s.service, s.kind, s.name) for s in chain] == [
        ("hub-intake", "CONSUMER", f"{topics.inbound('community')} process"),
        ("hub-intake", "PRODUCER", f"{topics.requested} publish"),
        ("hub-router", "CONSUMER", f"{topics.requested} process"),
        ("hub-router", "PRODUCER", f"{topics.tasks} publish"),
        ("hub-notifier", "CONSUMER", f"{topics.tasks} process"),
        ("hub-notifier", "INTERNAL", "notification deliver"),
        ("hub-notifier", "CLIENT", "POST"),
    ], [(s.service, s.kind, s.name) for s in chain]
    assert chain[0].parent_span_id == agency_span, "the first hop does not continue the agency's"
    assert all(s.trace_id == trace_id for s in chain)
    [server] = [s for s in collector.of_trace(caller_trace) if s.kind == "SERVER"]
    assert (server.service, server.parent_span_id) == ("hub-notifier", caller_span), server
    assert server.attributes.get("http.route") == "/fhir/Subscription", server.attributes
    by_id = {s.span_id: s for s in collector.of_trace(http_trace)}
    [published] = [
        s for s in by_id.values() if (s.kind, s.name) == ("PRODUCER", f"{topics.requested} publish")
    ]
    received = by_id[published.parent_span_id]
    assert (received.service, received.kind, received.parent_span_id) == (
        "hub-intake",
        "SERVER",
        http_caller,
    ), received
    # Ids and codes only: the URL without its query, no exception text.
    assert all("url.query" not in s.attributes for s in spans)

    lines = [
        (path.name, line)
        for path in Path(services["intake"].log_dir).glob("*.log")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert lines, "the services logged nothing: is the test reading the logs?"
    records = []
    for name, line in lines:
        try:
            records.append((name, json.loads(line)))
        except ValueError:
            pytest.fail(f"{name}: a log line that is not JSON: {line[:200]}")
    assert all({"time", "level", "service", "logger", "message"} <= r.keys() for _, r in records)
    traced = {r["service"] for _, r in records if r.get("trace_id") == trace_id}
    assert {"intake", "router"} <= traced, f"the referral's lines with its trace id: {traced}"
    print(
        f"\n{len(chain)} hops in one trace, {len(spans)} spans; {time.monotonic() - started:.1f} s"
    )
