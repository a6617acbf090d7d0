"""Record a history of referrals straight into every service's tables, as if they had flowed.

Issue 18 asks whether any hot path grows with history: the hub must route and notify as fast
with a million referrals behind it as with none. Sending a million referrals through the hub
would take hours on the reference machine, so this writes what they would have left behind,
in PostgreSQL itself (`INSERT ... SELECT` over `generate_series`, a chunk per transaction: no
row crosses the wire), for each historical referral:

- intake: the referral (its ServiceRequest, person key, episode);
- router: the Task, closed by its link worker, its decision, its closed service-level timer,
  and the inbox row of the request it consumed;
- notifier: the ServiceRequest and person record it keeps, the Task and its three versions,
  three webhook deliveries (delivered) on the referrer's historical subscription, and the
  inbox rows of the versions it consumed.

Outboxes are left empty: a relay deletes a row once published, so a drained outbox holds no
history. Historical subscriptions are `off`, so the notifier never calls their endpoints.

    python -m benchmarks.seed_history --referrals 1000000   # DATABASE_URL names the database

Run it again to add more: ids continue after the last seeded one. Referral ids start with
`hist-`, so a seeded history is told apart from real referrals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import asyncpg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import make_url

from hub_common.region.service_area import district_boroughs

CHUNK = 10_000  # referrals per transaction: big enough to be fast, small enough to show progress
SUBSCRIPTIONS = 12  # historical referring organisations, each with one (now off) subscription
WORKERS = 24  # link workers the history was closed by
SOURCES = ("community", "fire", "police", "fhir", "housing")
DAY_SECONDS = 86_400
YEARS_OF_HISTORY = 5

# What a ServiceRequest and a Task look like, roughly their real size; each row gets its own id.
SERVICE_REQUEST: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "status": "completed",
    "intent": "order",
    "category": [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "306206005",
                    "display": "Referral to service",
                }
            ]
        }
    ],
    "code": {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "871731000000106",
                "display": "Referral to social prescribing service",
            }
        ]
    },
    "subject": {"reference": "Patient/historical", "display": "historical person"},
    "requester": {"reference": "Organization/historical", "display": "Historical referrer"},
    "reasonCode": [{"text": "loneliness and isolation; housing worries; money worries"}],
    "note": [{"text": "Recorded by the history seeder: no real person."}],
    "authoredOn": "2024-01-01T09:00:00+00:00",
}
TASK: dict[str, Any] = {
    "resourceType": "Task",
    "status": "completed",
    "businessStatus": {"text": "closed: support completed"},
    "intent": "order",
    "priority": "routine",
    "focus": {"reference": "ServiceRequest/historical"},
    "for": {"reference": "Patient/historical"},
    "owner": {"reference": "PractitionerRole/historical"},
    "requester": {"reference": "Organization/historical"},
    "authoredOn": "2024-01-01T09:00:00+00:00",
    "lastModified": "2024-02-01T09:00:00+00:00",
    "output": [{"type": {"text": "outcome"}, "valueString": "connected to 2 services"}],
}


def chunk_statements() -> list[str]:
    """One INSERT per table, each over referrals $1..$2 (inclusive), reading the templates
    from `seed_template` (TEMPLATE_TABLE). Closed, in the past, spread over years."""
    series = "from seed_template, generate_series($1::bigint, $2::bigint) n"
    rid = "'hist-' || n"
    when = (
        f"(timestamptz '2020-01-01' + (n % ({YEARS_OF_HISTORY} * 365)) * interval '1 day'"
        " + (n % 86400) * interval '1 second')"
    )
    source = f"(array{list(SOURCES)!r})[1 + n % {len(SOURCES)}]".replace('"', "'")
    borough = "boroughs[1 + n % array_length(boroughs, 1)]"
    worker = f"'lw-hist-' || (n % {WORKERS})"
    org = f"'hist-org-' || (n % {SUBSCRIPTIONS})"
    subscription = f"'hist-sub-' || (n % {SUBSCRIPTIONS})"
    sr = f"jsonb_set(service_request, '{{id}}', to_jsonb({rid}))"
    task = f"jsonb_set(task, '{{id}}', to_jsonb({rid}))"
    return [
        "insert into intake.referrals (referral_id, source, referrer_reference, episode_id,"
        " person_key, received_at, service_request, sending_agency)"
        f" select {rid}, {source}, 'HIST-' || n, 'episode-hist-' || n,"
        f" md5('person-' || n) || md5('key-' || n), {when}, {sr}, {org} {series}",
        "insert into router.tasks (referral_id, episode_id, owner, status, business_status,"
        " version, offered_on, facts, task, updated_at)"
        f" select {rid}, 'episode-hist-' || n, {worker}, 'completed', 'closed', 3,"
        f" ({when})::date,"
        f" jsonb_build_object('route', jsonb_build_object('borough', {borough})),"
        f" {task}, {when} + interval '30 days' {series}",
        "insert into router.decisions (referral_id, decided_at, record)"
        f" select {rid}, {when}, jsonb_build_object('chosen', {worker}, 'score', n % 100)"
        f" {series}",
        "insert into router.sla_timers (referral_id, borough, accepted_at, first_contact_at,"
        " closed_at, next_due_at)"
        f" select {rid}, {borough}, {when}, {when} + interval '2 days',"
        f" {when} + interval '30 days', null {series}",
        "insert into router.processed_events (consumer, event_id, processed_at)"
        f" select 'router.requested', 'hist-requested-' || n, {when} {series}",
        "insert into notifier.service_requests (referral_id, source, requester_org, resource,"
        " received_at, borough)"
        f" select {rid}, {source}, {org}, {sr}, {when}, {borough} {series}",
        "insert into notifier.person_records (referral_id, person_id, link_basis, nhs_number,"
        " birth_date, family, given, postcode, phone, recorded_at)"
        f" select {rid}, 'person-hist-' || n, 'nhs-number', lpad((9000000000 + n)::text, 10, '0'),"
        " date '1940-01-01' + (n % 20000)::int, 'Historical' || (n % 997),"
        " array['Seeded'], 'SW' || (1 + n % 20) || ' ' || (n % 9) || 'AA',"
        f" '07700' || lpad((n % 900000)::text, 6, '0'), {when} {series}",
        "insert into notifier.tasks (referral_id, version, status, business_status,"
        " requester_org, task, updated_at, last_updated)"
        f" select {rid}, 3, 'completed', 'closed', {org}, {task},"
        f" {when} + interval '30 days', {when} + interval '30 days' {series}",
        "insert into notifier.task_history (referral_id, version, task, recorded_at)"
        f" select {rid}, v, {task}, {when} + (v - 1) * interval '15 days'"
        f" {series}, generate_series(1, 3) v",
        "insert into notifier.processed_events (consumer, event_id, processed_at)"
        f" select 'notifier.tasks', 'hist-task-' || n || '-' || v, {when} {series},"
        " generate_series(1, 3) v",
        "insert into notifier.deliveries (delivery_id, subscription_id, event_number, kind,"
        " channel, target, referral_id, body, status, attempts, due_at, first_attempt_at,"
        " last_attempt_at, delivered_at, created_at)"
        f" select 'hist-delivery-' || n || '-' || v, {subscription},"
        f" (n / {SUBSCRIPTIONS}) * 3 + v, 'event-notification', 'rest-hook',"
        f" 'https://historical.example/hook', {rid}, convert_to({task}::text, 'UTF8'),"
        f" 'delivered', 1, {when}, {when}, {when}, {when}, {when} {series},"
        " generate_series(1, 3) v",
    ]


# The templates, once per connection, so each INSERT takes only its range of referrals.
TEMPLATE_TABLE = (
    "create temporary table seed_template"
    " (service_request jsonb not null, task jsonb not null, boroughs text[] not null)"
)
SUBSCRIPTION_ROWS = (
    "insert into notifier.subscriptions (subscription_id, requester_org, status, channel,"
    " endpoint, secret, filter_criteria, reason, created_at, updated_at)"
    " select 'hist-sub-' || k, 'hist-org-' || k, 'off', 'rest-hook',"
    " 'https://historical.example/hook', 'historical-not-a-secret',"
    " 'Task?requester=Organization/hist-org-' || k, 'historical referrer',"
    " timestamptz '2020-01-01', timestamptz '2020-01-01'"
    " from generate_series(0, $1::int - 1) k on conflict do nothing"
)
ANALYSED = (
    "intake.referrals",
    "router.tasks",
    "router.decisions",
    "router.sla_timers",
    "router.processed_events",
    "notifier.service_requests",
    "notifier.person_records",
    "notifier.tasks",
    "notifier.task_history",
    "notifier.processed_events",
    "notifier.deliveries",
    "notifier.subscriptions",
)


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seeded(conn: asyncpg.Connection) -> int:
    """How many historical referrals the database holds already (ids run 0..n-1)."""
    last = await conn.fetchval(
        "select max(substr(referral_id, 6)::bigint) from intake.referrals"
        " where referral_id like 'hist-%'"
    )
    return 0 if last is None else int(last) + 1


async def seed(database_url: str, referrals: int, *, show: bool = True) -> dict[str, Any]:
    """Add `referrals` historical referrals; returns how many there are now and how long it
    took. Each chunk is one transaction, so an interrupted run leaves whole referrals."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    started = time.monotonic()
    try:
        first = await seeded(conn)
        await conn.execute(SUBSCRIPTION_ROWS, SUBSCRIPTIONS)
        statements = chunk_statements()
        await conn.execute(TEMPLATE_TABLE)
        await conn.execute(
            "insert into seed_template values ($1::jsonb, $2::jsonb, $3::text[])",
            json.dumps(SERVICE_REQUEST),
            json.dumps(TASK),
            sorted(set(district_boroughs().values())),
        )
        columns = (
            TextColumn("[bold]seeding history"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("referrals"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, disable=not show, transient=False) as progress:
            bar = progress.add_task("seed", total=referrals)
            for start in range(first, first + referrals, CHUNK):
                end = min(start + CHUNK, first + referrals) - 1
                async with conn.transaction():
                    for statement in statements:
                        await conn.execute(statement, start, end)
                progress.advance(bar, end - start + 1)
        for table in ANALYSED:
            await conn.execute(f"analyze {table}")
        return {
            "added": referrals,
            "recorded": first + referrals,
            "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        await conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.seed_history",
        description="Record historical referrals in every service's tables, as if they had "
        "flowed (closed Tasks, deliveries, inbox rows), to show no hot path grows with history.",
    )
    parser.add_argument("--referrals", type=int, required=True, help="historical referrals to add")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="the hub's database, migrated (default: DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    if args.referrals < 1:
        parser.error("--referrals must be at least 1")
    if not args.database_url:
        parser.error("name the database: --database-url or DATABASE_URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    done = asyncio.run(seed(args.database_url, args.referrals))
    rate = done["added"] / max(done["seconds"], 0.1)
    print(
        f"added {done['added']:,} historical referrals in {done['seconds']} s ({rate:,.0f}/s); "
        f"the database now holds {done['recorded']:,}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
