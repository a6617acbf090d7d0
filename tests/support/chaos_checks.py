"""Checks the chaos tests share: the limits sampled while the hub runs, webhook subscriptions
for every agency, and what the referrers and the Task topic must show afterwards (each
referral's Task versions 1..n with no fork; each subscription's event numbers 1..N with no gap,
one change each, every change heard)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub_common.jsonio import loads
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters.requester import (
    referrer_reference,
    rejection_requester,
    requester_key,
    service_request_requester,
)
from hub_notifier.domain.notification import TASK_TOPIC
from tests.support.chaos import TIGHT, Load, roster
from tests.support.kafka_io import publish_many, read_to_end
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack
from tests.support.variants import EXAMPLES, example, references
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


async def warm_up_and_subscribe(
    stack: IsolatedStack,
    engine: AsyncEngine,
    notifier: ServiceProcess,
    receiver: WebhookReceiver,
    interval: float,
) -> dict[str, str]:
    """Once the roster is loaded, one referral of each format tells us the referring
    organisations; each then gets a webhook subscription. Returns its endpoint path by org."""
    await eventually(
        lambda: scalar(engine, "select count(*) = 6 from router.link_workers"),
        timeout=60,
        what="the roster",
        interval=interval,
    )
    warm_up = Load()
    for source in sorted(EXAMPLES):
        warm_up.add(source, references(source, "-W")[0], example(source, "-W"))
    await publish_load(stack, warm_up)
    await eventually(
        lambda: scalar(engine, "select count(*) = 6 from notifier.tasks"),
        timeout=90,
        what="the warm-up referrals",
        interval=interval,
    )
    requested = [
        v for _, v in await read_to_end(stack.kafka_bootstrap_servers, stack.topics.requested) if v
    ]
    orgs = sorted({requester_key(service_request_requester(r)) for r in requested})
    return await subscribe_every_agency(notifier, stack.auth_secret, receiver, orgs)


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


async def wait_until_settled(
    engine: AsyncEngine, timeouts: tuple[float, float, float], interval: float
) -> None:
    """Wait for every outbox to empty, every Task version to reach the notifier and every
    notification to be delivered (each with its own time limit, in that order)."""
    steps = (
        (
            "select (select count(*) from intake.outbox) + (select count(*) from router.outbox)"
            " + (select count(*) from notifier.outbox) = 0",
            "empty outboxes",
        ),
        (
            "select (select coalesce(sum(version), 0) from router.tasks)"
            " = (select count(*) from notifier.task_history h"
            "    join router.tasks t using (referral_id))",
            "every Task version tracked by the notifier",
        ),
        (
            "select count(*) = 0 from notifier.deliveries where status = 'pending'",
            "every notification delivered",
        ),
    )
    for (sql, what), timeout in zip(steps, timeouts, strict=True):
        await eventually(
            lambda sql=sql: scalar(engine, sql), timeout=timeout, what=what, interval=interval
        )


@dataclass(frozen=True)
class Published:
    """What `referrals.requested` holds: each referral's requester and referrer reference."""

    messages: int
    org_of: dict[str, str]
    reference_of: dict[str, str]


async def check_published_once(
    stack: IsolatedStack, engine: AsyncEngine, accepted: set[str], total: int
) -> Published:
    """Every accepted referral (a reference with `-X`) is on `referrals.requested` under one
    id, no other is, and intake holds `total` referrals."""
    published = [
        v for _, v in await read_to_end(stack.kafka_bootstrap_servers, stack.topics.requested) if v
    ]
    ids_by_reference: dict[str, set[str]] = defaultdict(set)
    org_of: dict[str, str] = {}
    reference_of: dict[str, str] = {}
    for request in published:
        reference = str(referrer_reference(request))
        ids_by_reference[reference].add(request["id"])
        org_of[request["id"]] = requester_key(service_request_requester(request))
        reference_of[request["id"]] = reference
    sent = {r for r in ids_by_reference if "-X" in r}
    assert sent == accepted, (
        f"lost: {sorted(accepted - sent)[:5]}, unexpected: {sorted(sent - accepted)[:5]}"
    )
    twice = {r: ids for r, ids in ids_by_reference.items() if len(ids) > 1}
    assert not twice, f"referrals published under more than one id: {list(twice.items())[:3]}"
    assert await scalar(engine, "select count(*) from intake.referrals") == total
    return Published(len(published), org_of, reference_of)


async def check_rejected_once(stack: IsolatedStack, refused_inputs: int) -> dict[str, Any]:
    """Every refused input is on `referrals.rejected`, once; the rejections by id."""
    rejected = [
        v for _, v in await read_to_end(stack.kafka_bootstrap_servers, stack.topics.rejected) if v
    ]
    rejections = {e["rejectionId"]: e for e in rejected}
    assert len(rejections) == refused_inputs, (
        f"{len(rejections)} rejections for {refused_inputs} refused inputs"
    )
    return rejections


async def current_tasks(engine: AsyncEngine) -> dict[str, Row[Any]]:
    """Each referral's Task row: owner, business status and version."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("select referral_id, owner, business_status, version from router.tasks")
            )
        ).all()
    return {row.referral_id: row for row in rows}


async def check_limits_held(
    engine: AsyncEngine, violations: list[str], tight: list[str]
) -> dict[str, tuple[int, int]]:
    """No worker over either limit at any sampled moment (`violations`) or now, and at least
    one of the `tight` workers' limits bound; their open referrals and busiest day."""
    violations = [*violations, *await over_limits(engine)]
    assert not violations, violations[:5]
    async with engine.connect() as conn:
        held = dict((await conn.execute(text(LIMIT_QUERIES[0]))).all())
        busiest_day: Counter[str] = Counter()
        for owner, count in (await conn.execute(text(LIMIT_QUERIES[1]))).all():
            busiest_day[owner] = max(busiest_day[owner], count)
    tight_held = {w: (held.get(w, 0), busiest_day[w]) for w in tight}
    assert any(
        open_now == TIGHT["max_caseload"] or day == TIGHT["max_new_per_day"]
        for open_now, day in tight_held.values()
    ), f"no tight worker's limit ever bound ({tight_held}): the limit check proved nothing"
    return tight_held


async def check_every_change_heard(
    engine: AsyncEngine,
    receiver: WebhookReceiver,
    paths: dict[str, str],
    current: dict[str, Row[Any]],
    published: Published,
    rejections: dict[str, Any],
) -> tuple[int, int]:
    """Every subscribed referrer heard every version of its referrals' Tasks (the warm-up's,
    sent before the subscriptions, aside) and of its rejections, numbered without gaps, and
    nothing was dead-lettered. Returns (events, copies received)."""
    expected_events: dict[str, Counter[str]] = defaultdict(Counter)
    for referral_id, row in current.items():
        if "-W" not in published.reference_of[referral_id]:
            expected_events[published.org_of[referral_id]][f"Task/{referral_id}"] = row.version
    for rejection_id, event in rejections.items():
        org = rejection_requester(event)
        if org in paths:
            expected_events[org][f"Task/{rejection_id}"] = 1
    notified, copies = check_webhook_events(receiver, paths, expected_events)
    dead = await scalar(engine, "select count(*) from notifier.deliveries where status = 'dead'")
    assert dead == 0, f"{dead} notifications dead-lettered"
    return notified, copies
