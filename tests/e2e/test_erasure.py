"""Issue 17 part 2's "done when", on the real stack (Kafka, PostgreSQL, each service a process).

Erasure: two people referred through intake, router and notifier (each agency with a webhook
delivery); an operator erases one by NHS number; every service applies it; then a search of
every table of every schema (each row cast to text) and of every topic (read from the start)
finds none of that person's name, NHS number, birth date, address or phone, while the other
person's referral is whole everywhere, and every audit entry made before is still there,
unchanged, with the erasure as a new entry.

Restriction: the other person restricted by referral id; their link worker cannot accept the
open referral (409) until it is lifted; their new referral is held (no Task,
no offer, no webhook); lifted, the held referral is routed, the open one can be accepted, and
notifications resume.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from hub_common.fhir.refs import contained
from hub_common.jsonio import dumps
from hub_common.messaging.clients import bootstrap_list
from hub_common.messaging.topics import Topics
from hub_common.security.auth import Principal, issue_token
from tests.support.credentials import CVA, GP_PRACTICE
from tests.support.fixtures import FIXTURES
from tests.support.kafka_io import collect, publish
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess, run_cli, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.infra

TOPIC = "https://referral-hub.org/fhir/SubscriptionTopic/referral-task"
SCHEMAS = ("intake", "router", "notifier")


def reduced(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def identifiers(request: dict[str, Any]) -> dict[str, str]:
    """The person's name, NHS number, birth date, address and phone, from their
    ServiceRequest as the hub published it."""
    patient = contained(request, request["subject"]["reference"])
    name = patient["name"][0]
    found = {
        "family name": name["family"],
        "given name": name["given"][0],
        "birth date": patient["birthDate"],
        "address": patient["address"][0]["line"][0],
        "phone": next(t["value"] for t in patient["telecom"] if t["system"] == "phone"),
    }
    nhs = [i["value"] for i in patient.get("identifier", []) if "nhs-number" in i["system"]]
    if nhs:
        found["NHS number"] = nhs[0]
    return found


def bearer(stack: IsolatedStack, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(stack.auth_secret, principal)}"}


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def table_text(database_url: str) -> dict[str, list[str]]:
    """Every row of every table of every hub schema, as text (reduced), by table."""
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        found: dict[str, list[str]] = {}
        for row in tables:
            name = f'"{row["table_schema"]}"."{row["table_name"]}"'
            rows = await connection.fetch(f"SELECT t::text AS line FROM {name} t")
            found[name] = [reduced(r["line"]) for r in rows]
        return found
    finally:
        await connection.close()


async def every_topic(bootstrap: str, topics: Topics) -> list[str]:
    """The hub's topics and the agencies' status topics made so far (they are made on demand)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_list(bootstrap))
    await admin.start()
    try:
        existing = await admin.list_topics()
    finally:
        await admin.close()
    return topics.all() + sorted(name for name in existing if topics.is_agency_status(name))


async def topic_text(bootstrap: str, topics: list[str]) -> dict[str, list[str]]:
    """Every record (key and value, reduced) still readable on each topic, from the start."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_list(bootstrap),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, list[str]] = {topic: [] for topic in topics}
    try:
        partitions = sorted(consumer.assignment())
        assert {tp.topic for tp in partitions} == set(topics), "a topic has no partitions"
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    text = (record.key or b"") + b" " + (record.value or b"")
                    found[tp.topic].append(reduced(text.decode("utf-8", "replace")))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


def traces(where: dict[str, list[str]], terms: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (place, what)
        for place, lines in where.items()
        for what, term in terms.items()
        if any(reduced(term) in line for line in lines)
    ]


async def audit_rows(database_url: str) -> list[str]:
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT t::text AS line FROM notifier.audit_log t ORDER BY event_id"
        )
        return [r["line"] for r in rows]
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    env = {**stack.env(), "NOTIFIER_ALLOW_HTTP_ENDPOINTS": "true"}
    with running_hub(env, tmp_path_factory.mktemp("erasure")) as running:
        yield running


async def subscribe(client: httpx.AsyncClient, notifier: str, headers: Any, url: str) -> None:
    made = await client.post(
        f"{notifier}/fhir/Subscription",
        json={
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "our referrals",
            "criteria": TOPIC,
            "channel": {"type": "rest-hook", "endpoint": url, "payload": "application/fhir+json"},
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text


async def applied(
    client: httpx.AsyncClient, notifier: str, operator: Any, request_id: str
) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        answer = await client.get(
            f"{notifier}/operator/data-protection/{request_id}", headers=operator
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body if set(body["appliedBy"]) >= set(SCHEMAS) else None

    found = await eventually(done, timeout=40.0)
    assert found, f"request {request_id} not applied by every service"
    return dict(found)


def hooks_about(receiver: WebhookReceiver, path: str, referral_id: str) -> int:
    return sum(
        1 for r in receiver.requests if r.path == path and r.body and referral_id.encode() in r.body
    )


async def test_erasure_leaves_no_trace_and_restriction_stops_processing(
    stack: IsolatedStack, services: dict[str, ServiceProcess], receiver: WebhookReceiver
) -> None:
    run_cli(stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv"))
    gp = bearer(
        stack, Principal("agency", GP_PRACTICE, organisation=GP_PRACTICE, sources=("fhir",))
    )
    cva = bearer(stack, Principal("agency", CVA, organisation=CVA, sources=("community",)))
    operator = bearer(stack, Principal("operator", "ops-dpo"))
    notifier = services["notifier"].url
    bootstrap = stack.kafka_bootstrap_servers
    async with httpx.AsyncClient(timeout=15.0) as client:
        await subscribe(client, notifier, gp, receiver.url("/gp"))
        await subscribe(client, notifier, cva, receiver.url("/cva"))
    await asyncio.sleep(1.0)  # the router applies the roster

    tag = f"-{stack.topic_prefix[-8:]}"
    await publish(bootstrap, stack.topics.inbound("fhir"), example("fhir", tag), key="gp")
    await publish(bootstrap, stack.topics.inbound("community"), example("community", tag), key="c")
    requests = await collect(bootstrap, stack.topics.requested, lambda seen: len(seen) >= 2)
    [erased] = [r for r in requests if "NHS number" in identifiers(r)]
    [kept] = [r for r in requests if r is not erased]
    erased_terms, kept_terms = identifiers(erased), identifiers(kept)
    assert not set(map(reduced, erased_terms.values())) & set(map(reduced, kept_terms.values()))
    await collect(bootstrap, stack.topics.tasks, lambda seen: len({t["id"] for t in seen}) >= 2)
    for path, referral in (("/gp", erased), ("/cva", kept)):
        assert await eventually(lambda p=path, r=referral: hooks_about(receiver, p, r["id"]))

    # Each agency reads its referral: audit entries naming each person's referral.
    async with httpx.AsyncClient(timeout=15.0) as client:
        for headers, referral in ((gp, erased), (cva, kept)):
            read = await client.get(
                f"{notifier}/fhir/ServiceRequest/{referral['id']}", headers=headers
            )
            assert read.status_code == 200, read.text

    async def audited() -> list[str]:
        rows = await audit_rows(stack.database_url)
        return rows if sum(erased["id"] in row or kept["id"] in row for row in rows) >= 2 else []

    audit_before = await eventually(audited)
    assert audit_before, "the reads were not audited"

    # Before: the person is everywhere (the search can find them).
    before_tables = await table_text(stack.database_url)
    before_topics = await topic_text(bootstrap, await every_topic(bootstrap, stack.topics))
    assert {what for _, what in traces(before_tables, erased_terms)} == set(erased_terms)
    assert {what for _, what in traces(before_topics, erased_terms)} == set(erased_terms)

    async with httpx.AsyncClient(timeout=15.0) as client:
        started = time.monotonic()
        answer = await client.post(
            f"{notifier}/operator/erasure",
            json={"nhsNumber": erased_terms["NHS number"]},
            headers=operator,
        )
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["requestId"]
        status = await applied(client, notifier, operator, request_id)
        print(f"\nerasure applied by every service in {time.monotonic() - started:.1f} s")
        assert status["referralIds"] == [erased["id"]]
        nobody = await client.post(
            f"{notifier}/operator/erasure", json={"referralId": "no-such"}, headers=operator
        )
        assert nobody.status_code == 404

    # After: no trace of the person in any table or topic; the other person whole.
    after_tables = await table_text(stack.database_url)
    after_topics = await topic_text(bootstrap, await every_topic(bootstrap, stack.topics))
    assert traces(after_tables, erased_terms) == []
    assert traces(after_topics, erased_terms) == []
    for place in (
        '"intake"."referrals"',
        '"notifier"."service_requests"',
        '"notifier"."person_records"',
    ):
        assert {what for p, what in traces(after_tables, kept_terms) if p == place} >= {
            "family name",
            "phone",
        }, place
    kept_on_topics = {topic for topic, _ in traces(after_topics, kept_terms)}
    assert stack.topics.requested in kept_on_topics  # the other person's records are readable

    # The audit trail: every entry made before, unchanged; the erasure a new entry.
    async def erasure_entry() -> bool:
        rows = await audit_rows(stack.database_url)
        return any("Erasure" in row and erased["id"] in row for row in rows)

    assert await eventually(erasure_entry)
    audit_after = await audit_rows(stack.database_url)
    assert set(audit_before) <= set(audit_after)

    await check_restriction(stack, services, receiver, kept, tag, cva, operator)


async def check_restriction(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    receiver: WebhookReceiver,
    kept: dict[str, Any],
    tag: str,
    cva: dict[str, str],
    operator: dict[str, str],
) -> None:
    notifier, router = services["notifier"].url, services["router"].url
    bootstrap = stack.kafka_bootstrap_servers
    async with httpx.AsyncClient(timeout=15.0) as client:
        answer = await client.post(
            f"{notifier}/operator/restriction", json={"referralId": kept["id"]}, headers=operator
        )
        assert answer.status_code == 202, answer.text
        restriction = answer.json()["requestId"]
        await applied(client, notifier, operator, restriction)
        heard = hooks_about(receiver, "/cva", kept["id"])

        # Nobody works on the open referral: the link worker is told why.
        owner = bearer(stack, Principal("link_worker", "lw-cr-twi"))
        refused = await client.post(f"{router}/fhir/Task/{kept['id']}/$accept", headers=owner)
        assert refused.status_code == 409, refused.text
        assert "restricted" in refused.json()["issue"][0]["diagnostics"]
        # A new referral of the same person is held: no Task, no offer.
        await publish(
            bootstrap, stack.topics.inbound("community"), example("community", f"{tag}-2"), key="c"
        )
        family = identifiers(kept)["family name"]

        def theirs(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in seen if r["id"] != kept["id"] and family in dumps(r).decode()]

        [second] = theirs(
            await collect(bootstrap, stack.topics.requested, lambda seen: bool(theirs(seen)))
        )
        await asyncio.sleep(4.0)  # time enough to route and notify, were it allowed
        tasks = await collect(bootstrap, stack.topics.tasks, lambda seen: len(seen) >= 1)
        assert second["id"] not in {t["id"] for t in tasks}, "a restricted referral was routed"
        assert hooks_about(receiver, "/cva", kept["id"]) == heard, "notified while restricted"
        assert hooks_about(receiver, "/cva", second["id"]) == 0

        lifted = await client.post(
            f"{notifier}/operator/restriction/{restriction}/$lift", headers=operator
        )
        assert lifted.status_code == 202, lifted.text
        await applied(client, notifier, operator, lifted.json()["requestId"])
        routed = await collect(
            bootstrap, stack.topics.tasks, lambda seen: second["id"] in {t["id"] for t in seen}
        )
        assert routed
        assert await eventually(lambda: hooks_about(receiver, "/cva", second["id"]) > 0)
        # Lifted: work resumes, and the referrer hears of it again.
        accepted = await client.post(f"{router}/fhir/Task/{kept['id']}/$accept", headers=owner)
        assert accepted.status_code == 200, accepted.text
        assert await eventually(lambda: hooks_about(receiver, "/cva", kept["id"]) > heard)
