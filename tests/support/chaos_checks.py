"""Checks the chaos tests share: the limits sampled while the hub runs, webhook subscriptions
for every agency, and what the referrers and the Task topic must show afterwards (each
referral's Task versions 1..n with no fork; each subscription's event numbers 1..N with no gap,
one change each, every change heard)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from typing import Any

import httpx
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.auth import Principal, issue_token
from hub_common.jsonio import loads
from hub_notifier.domain.notification import TASK_TOPIC
from tests.support.chaos import Load, roster
from tests.support.kafka_io import publish_many, read_to_end
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack
from tests.support.webhook_receiver import WebhookReceiver

BACKPORT_FILTER = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria"
)
LIMIT_QUERIES = (
    "select owner, count(*) from router.tasks where owner is not null"
    " and status in ('requested', 'accepted', 'in-progress', 'on-hold') group by owner",
    "select owner, count(*) from router.tasks where owner is not null group by owner, offered_on",
)


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


async def over_limits(engine: AsyncEngine) -> list[str]:
    limits = {w.worker_id: w for w in roster()}
    found = []
    async with engine.connect() as conn:
        for owner, count in (await conn.execute(text(LIMIT_QUERIES[0]))).all():
            if count > limits[owner].max_caseload:
                found.append(f"{owner} holds {count} open referrals")
        for owner, count in (await conn.execute(text(LIMIT_QUERIES[1]))).all():
            if count > limits[owner].max_new_per_day:
                found.append(f"{owner} was given {count} referrals in one day")
    return found


async def watch_limits(engine: AsyncEngine, stop: asyncio.Event, seen: list[str]) -> int:
    samples = 0
    while not stop.is_set():
        with contextlib.suppress(Exception):  # PostgreSQL may be the thing restarting
            seen.extend(await over_limits(engine))
            samples += 1
        await asyncio.sleep(1.0)
    return samples


def subscription(org: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "chaos test",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [{"url": BACKPORT_FILTER, "valueString": f"Task?requester={org}"}]
        },
        "channel": {"type": "rest-hook", "payload": "application/fhir+json", "endpoint": ""},
    }


async def subscribe_every_agency(
    notifier: ServiceProcess, secret: str, receiver: WebhookReceiver, orgs: list[str]
) -> dict[str, str]:
    """One webhook subscription per referring organisation; path of its endpoint by org."""
    paths = {}
    async with httpx.AsyncClient(timeout=10.0) as client:
        for number, org in enumerate(orgs):
            token = issue_token(secret, Principal("agency", subject=org, organisation=org))
            body = subscription(org)
            body["channel"]["endpoint"] = receiver.url(f"/hook/{number}")
            answer = await client.post(
                f"{notifier.url}/fhir/Subscription",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 201, answer.text
            paths[org] = f"/hook/{number}"
    return paths


async def publish_load(stack: IsolatedStack, load: Load) -> None:
    await asyncio.gather(
        *(
            publish_many(stack.kafka_bootstrap_servers, stack.topics.inbound(source), messages)
            for source, messages in load.messages.items()
        )
    )


def event_parts(body: bytes) -> list[tuple[int, str]]:
    """(event number, focus) of every event a notification carries (one request may carry
    several); none for a handshake."""
    status = loads(body)["entry"][0]["resource"]
    found = []
    for parameter in status["parameter"]:
        if parameter["name"] == "notification-event":
            parts = {p["name"]: p for p in parameter["part"]}
            found.append(
                (
                    int(parts["event-number"]["valueString"]),
                    parts["focus"]["valueReference"]["reference"],
                )
            )
    return found


async def check_task_histories(stack: IsolatedStack, current: dict[str, Row[Any]]) -> None:
    """Every referral's Task versions on Kafka run 1..n (its row's version), copies of one
    version are identical, and the latest names the row's owner."""
    snapshots: dict[str, dict[int, set[tuple[str, str | None]]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for _, task in await read_to_end(stack.kafka_bootstrap_servers, stack.topics.tasks):
        if task:
            owner = (task.get("owner") or {}).get("reference")
            snapshots[task["id"]][int(task["meta"]["versionId"])].add((task["status"], owner))
    for referral_id, row in current.items():
        versions = snapshots[referral_id]
        assert sorted(versions) == list(range(1, row.version + 1)), (
            f"{referral_id}: versions {sorted(versions)} for current version {row.version}"
        )
        forks = {v: s for v, s in versions.items() if len(s) > 1}
        assert not forks, f"{referral_id}: two different snapshots of one version {forks}"
        latest_owner = next(iter(versions[row.version]))[1]
        assert latest_owner == (f"PractitionerRole/{row.owner}" if row.owner else None)


def check_webhook_events(
    receiver: WebhookReceiver, paths: dict[str, str], expected: dict[str, Counter[str]]
) -> tuple[int, int]:
    """Each subscription's event numbers run 1..N with no gap, a number never stands for two
    changes (a duplicate only repeats one), and each organisation heard exactly `expected`
    (focus -> how many events). Returns (events, copies received)."""
    by_path: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    copies = 0
    for request in receiver.accepted:
        for number, focus in event_parts(request.body):
            copies += 1
            by_path[request.path][number].add(focus)
    notified = 0
    for org, path in paths.items():
        numbers = by_path[path]
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"{org}: gaps in events"
        mixed = {n: f for n, f in numbers.items() if len(f) > 1}
        assert not mixed, f"{org}: one event number for different changes {mixed}"
        heard = Counter(next(iter(f)) for f in numbers.values())
        assert heard == expected[org], (
            f"{org}: heard {sum(heard.values())} events, expected "
            f"{sum(expected[org].values())}; differing: "
            f"{list((heard - expected[org]).items())[:3]} / "
            f"{list((expected[org] - heard).items())[:3]}"
        )
        notified += len(numbers)
    return notified, copies
