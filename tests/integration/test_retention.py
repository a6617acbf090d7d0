"""The retention sweep on real PostgreSQL, one service at a time, with a clock the test sets:
exactly the records whose period has passed are deleted (or, for the router's closed Tasks,
anonymised), nothing else is touched, and the coordinators' figures come out the same after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub_common.fhir.task_outputs import Outcomes
from hub_common.fhir.wellbeing import Instrument, Timepoint, WellbeingMeasure
from hub_common.jsonio import dumps
from hub_common.privacy.retention import RetentionPolicy, RetentionStep, RetentionSweep
from hub_common.storage.db import make_engine, make_session_factory
from hub_intake.adapters import orm as intake_orm
from hub_intake.adapters.retention_store import retention_steps as intake_steps
from hub_notifier.adapters import orm as notifier_orm
from hub_notifier.adapters.retention_store import retention_steps as notifier_steps
from hub_router.adapters import orm as router_orm
from hub_router.adapters.retention_store import retention_steps as router_steps
from hub_router.domain.access import Viewer
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.domain.offers import OfferTimeout
from hub_router.domain.task_status import BusinessStatus as B
from hub_router.domain.task_status import TaskStatus as S
from hub_router.service_layer.commands import AcceptOffer, ChangeTaskStatus
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.task_progress import TaskProgress
from hub_router.service_layer.views import TaskViews
from hub_web.domain.metrics import referrals_per_source_week, time_to_first_contact
from hub_web.domain.tasks import task_view
from hub_web.domain.wellbeing_change import change_by_cohort
from tests.support.referrals import service_request
from tests.support.router_support import add_workers
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

NOW = datetime(2036, 6, 1, 12, 0, tzinfo=UTC)  # the sweep's clock: years after the records
POLICY = RetentionPolicy.parse(None)  # the defaults: referral 8y, rejection 2y, ...
EXPIRED_REFERRAL = NOW - timedelta(days=8 * 366)  # more than 8 calendar years before NOW
KEPT_REFERRAL = NOW - timedelta(days=8 * 365 - 30)  # just under 8 years
BATCH = 2  # smaller than what expires, so the sweep must go round


@dataclass
class Db:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def sweep(self, steps: list[RetentionStep]) -> dict[str, int]:
        return await RetentionSweep(POLICY, steps, batch=BATCH, clock=lambda: NOW).sweep()

    async def add(self, table: Table, *rows: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(table), list(rows))

    async def column(self, table: Table, name: str) -> set[Any]:
        async with self.engine.connect() as conn:
            return set((await conn.execute(select(table.c[name]))).scalars())

    async def count(self, table: Table) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def db(stack: IsolatedStack) -> AsyncIterator[Db]:
    engine = make_engine(stack.database_url)
    yield Db(engine, make_session_factory(engine))
    await engine.dispose()


def processed(consumer: str, age: timedelta) -> list[dict[str, Any]]:
    """An applied event id older and one younger than the 60-day default."""
    return [
        {"consumer": consumer, "event_id": f"{consumer}-old", "processed_at": NOW - age},
        {"consumer": consumer, "event_id": f"{consumer}-new", "processed_at": NOW - timedelta(1)},
    ]


async def test_intake_deletes_exactly_what_expired(db: Db) -> None:
    def referral(rid: str, received: datetime) -> dict[str, Any]:
        return {
            "referral_id": rid,
            "source": "community",
            "referrer_reference": f"form-{rid}",
            "episode_id": rid,
            "person_key": f"key-{rid}",
            "received_at": received,
            "service_request": {"resourceType": "ServiceRequest", "id": rid},
        }

    await db.add(
        intake_orm.referrals,
        *(referral(f"i-old-{n}", EXPIRED_REFERRAL - timedelta(days=n)) for n in range(3)),
        referral("i-kept", KEPT_REFERRAL),
    )

    def rejection(rid: str, received: datetime) -> dict[str, Any]:
        return {
            "rejection_id": rid,
            "source": "police",
            "fingerprint": rid,
            "received_at": received,
            "event": {"original": "Jane Doe"},
        }

    await db.add(
        intake_orm.rejections,
        rejection("x-old", NOW - timedelta(days=2 * 366)),
        rejection("x-kept", NOW - timedelta(days=2 * 365 - 1)),
    )
    await db.add(intake_orm.processed_events, *processed("intake", timedelta(days=61)))

    done = await db.sweep(intake_steps(db.sessions))

    assert await db.column(intake_orm.referrals, "referral_id") == {"i-kept"}
    assert await db.column(intake_orm.rejections, "rejection_id") == {"x-kept"}
    assert await db.column(intake_orm.processed_events, "event_id") == {"intake-new"}
    assert done == {
        "intake.referrals": 3,
        "intake.rejections": 1,
        "intake.processed_events": 1,
    }
    assert set((await db.sweep(intake_steps(db.sessions))).values()) == {0}  # nothing twice


def ons4(when: Timepoint, at: datetime, satisfied: int) -> WellbeingMeasure:
    answers = (("satisfied", satisfied), ("worthwhile", 5), ("happy", 5), ("anxious", 4))
    return WellbeingMeasure(Instrument.ONS4, when, at, answers)


async def test_router_anonymises_closed_referrals_and_the_figures_stay(
    db: Db, stack: IsolatedStack
) -> None:
    clock_now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    routing = RoutingService(
        db.sessions,
        stack.topics,
        clock=lambda: clock_now,
        max_failed_offers=3,
        offer_timeout=OfferTimeout(),
    )
    progress = TaskProgress(db.sessions, stack.topics, clock=lambda: clock_now)
    await add_workers(
        routing,
        LinkWorker(
            "lw-a",
            boroughs=frozenset({"Croydon"}),
            postcode_districts=frozenset({"CR7"}),
            working_days=frozenset(WEEKDAYS),
            max_caseload=100,
            max_new_per_day=100,
        ),
    )
    outcomes = Outcomes(
        "Talked about her sister Mary's illness",
        (
            ons4(Timepoint.FIRST_CONTACT, clock_now + timedelta(days=2), 3),
            ons4(Timepoint.CLOSURE, clock_now + timedelta(days=40), 7),
        ),
    )
    for rid in ("r-old-1", "r-old-2", "r-old-3", "r-recent", "r-open"):
        request = service_request(rid, language="pl", episode_id=f"episode-{rid}")
        await routing.route(request, f"event-{rid}", None)
        await progress.accept(AcceptOffer(rid, "lw-a"))
        if rid != "r-open":
            await progress.change_status(
                ChangeTaskStatus(rid, "lw-a", S.COMPLETED, B.CONNECTED_TO_SERVICES, None, outcomes)
            )
    async with db.engine.begin() as conn:
        for rid, moment in (
            ("r-old-1", EXPIRED_REFERRAL),
            ("r-old-2", EXPIRED_REFERRAL),
            ("r-old-3", EXPIRED_REFERRAL),
            ("r-recent", KEPT_REFERRAL),
            ("r-open", EXPIRED_REFERRAL),  # old, but open: never anonymised
        ):
            await conn.execute(
                update(router_orm.tasks)
                .where(router_orm.tasks.c.referral_id == rid)
                .values(updated_at=moment)
            )
        await conn.execute(
            text("update router.decisions set decided_at = :at where referral_id = 'r-recent'"),
            {"at": NOW - timedelta(days=2 * 366)},  # expired on its own, shorter clock
        )
        await conn.execute(
            text("update router.decisions set decided_at = :at where referral_id = 'r-open'"),
            {"at": NOW - timedelta(days=30)},
        )
    await db.add(
        router_orm.care_plans,
        *(
            {
                "referral_id": rid,
                "version": 1,
                "plan": {"goals": ["see Mary more often"]},
                "recorded_by": "lw-a",
                "recorded_at": clock_now,
            }
            for rid in ("r-old-1", "r-recent")
        ),
    )
    await db.add(
        router_orm.onward_referrals,
        *(
            {
                "onward_id": f"onward-{rid}",
                "referral_id": rid,
                "organisation_id": "org-1",
                "status": "completed",
                "business_status": "connected",
                "version": 1,
                "record": {},
                "request": {"resourceType": "ServiceRequest", "note": "Mary, 07700 900123"},
                "task": {"resourceType": "Task"},
            }
            for rid in ("r-old-2", "r-recent")
        ),
    )
    await db.add(router_orm.processed_events, *processed("router", timedelta(days=61)))
    coordinator = Viewer(boroughs=frozenset({"Croydon"}))
    views = TaskViews(db.sessions)
    before = await views.search(coordinator, limit=500)
    # Routing recorded its own event ids today, years before NOW: those expire too.
    applied = await db.count(router_orm.processed_events)

    done = await db.sweep(router_steps(db.sessions))

    assert done == {
        "router.tasks (closed referrals)": 3,
        "router.decisions": 1,  # r-recent's; the expired referrals' went with them
        "router.processed_events": applied - 1,
    }
    after = await views.search(coordinator, limit=500)
    assert {t["id"] for t in after} == {t["id"] for t in before}  # anonymised, not deleted
    anonymised = [t for t in after if t["id"].startswith("r-old")]
    untouched = {t["id"]: t for t in after if not t["id"].startswith("r-old")}
    assert untouched == {t["id"]: t for t in before if not t["id"].startswith("r-old")}
    assert all(trace in dumps(before).decode() for trace in ("episode-r-old", "Mary", '"pl"'))
    for task in anonymised:
        kept = dumps(task).decode()
        assert "episode-r-old" not in kept and "Mary" not in kept and '"pl"' not in kept
    # Everything that named or linked the person went with the care plan and the explanations.
    assert await db.column(router_orm.care_plans, "referral_id") == {"r-recent"}
    assert await db.column(router_orm.onward_referrals, "referral_id") == {"r-recent"}
    assert await db.column(router_orm.decisions, "referral_id") == {"r-open"}
    assert await db.column(router_orm.processed_events, "event_id") == {"router-new"}
    async with db.engine.connect() as conn:
        episodes = dict(
            (await conn.execute(text("select referral_id, episode_id from router.tasks"))).all()
        )
    assert episodes["r-old-1"] == "r-old-1" and episodes["r-recent"] == "episode-r-recent"

    # The coordinators' charts and wellbeing cohorts read the same from the anonymised Tasks.
    def figures(tasks: list[dict[str, Any]]) -> tuple[Any, ...]:
        views_ = [task_view(t) for t in tasks]
        contact = time_to_first_contact(views_)
        return (
            referrals_per_source_week(views_),
            contact.bands,
            {by: change_by_cohort(views_, by) for by in ("source", "need", "borough")},
        )

    assert figures(after) == figures(before)
    assert figures(before)[2]["borough"]  # there were wellbeing figures to keep
    assert (await db.sweep(router_steps(db.sessions))) == dict.fromkeys(done, 0)


async def test_notifier_forgets_closed_referrals_and_keeps_the_audit_log(db: Db) -> None:
    async def seed(rid: str, status: str, changed: datetime) -> None:
        await db.add(
            notifier_orm.service_requests,
            {
                "referral_id": rid,
                "source": "fhir",
                "requester_org": "ods|A12345",
                "resource": {"resourceType": "ServiceRequest", "id": rid, "note": "Jane Doe"},
                "received_at": changed - timedelta(days=30),
            },
        )
        await db.add(
            notifier_orm.tasks,
            {
                "referral_id": rid,
                "version": 2,
                "status": status,
                "business_status": "connected-to-services",
                "requester_org": "ods|A12345",
                "task": {"resourceType": "Task", "id": rid},
                "last_updated": changed,
            },
        )
        await db.add(
            notifier_orm.task_history,
            *({"referral_id": rid, "version": v, "task": {"id": rid}} for v in (1, 2)),
        )
        await db.add(
            notifier_orm.alerts,
            {
                "referral_id": rid,
                "rule": "first-contact",
                "level": "breach",
                "borough": "Croydon",
                "event_id": f"alert-{rid}",
                "due_at": changed,
                "raised_at": changed,
            },
        )

    def person(rid: str) -> dict[str, Any]:
        return {
            "referral_id": rid,
            "person_id": "person-1",
            "link_basis": "demographics",
            "birth_date": date(1950, 1, 1),
            "family": "Doe",
            "given": ["Jane"],
            "postcode": "CR78AB",
            "phone": "07700900123",
        }

    def review(rid: str, other: str) -> dict[str, Any]:
        return {
            "review_id": f"review-{rid}-{other}",
            "referral_id": rid,
            "other_referral_id": other,
            "score": 0.8,
            "fields": {},
            "swapped_names": False,
            "status": "pending",
        }

    await seed("n-old-1", "completed", EXPIRED_REFERRAL)
    await seed("n-old-2", "cancelled", EXPIRED_REFERRAL)
    await seed("n-old-3", "entered-in-error", EXPIRED_REFERRAL)
    await seed("n-recent", "completed", KEPT_REFERRAL)
    await seed("n-open", "in-progress", EXPIRED_REFERRAL)
    await db.add(
        notifier_orm.service_requests,
        {
            "referral_id": "n-unrouted",
            "source": "fhir",
            "requester_org": "ods|A12345",
            "resource": {"resourceType": "ServiceRequest"},
            "received_at": EXPIRED_REFERRAL,
        },
    )

    def delivery(did: str, status: str, created: datetime, rid: str | None) -> dict[str, Any]:
        return {
            "delivery_id": did,
            "kind": "email",
            "channel": "email",
            "target": "gp@example.org",
            "referral_id": rid,
            "body": b"{}",
            "status": status,
            "created_at": created,
            "due_at": created,
        }

    await db.add(notifier_orm.person_records, person("n-old-1"), person("n-recent"))
    await db.add(
        notifier_orm.person_reviews,
        review("n-recent", "n-old-2"),  # names an expired referral: goes with it
        review("n-open", "n-recent"),
    )
    year_and_a_bit = NOW - timedelta(days=367)
    await db.add(
        notifier_orm.deliveries,
        delivery("d-old-delivered", "delivered", year_and_a_bit, "n-open"),
        delivery("d-old-dead", "dead", year_and_a_bit, "n-open"),
        delivery("d-old-pending", "pending", year_and_a_bit, "n-open"),  # still trying: kept
        delivery("d-recent", "delivered", NOW - timedelta(days=300), "n-recent"),
        delivery("d-of-expired", "delivered", NOW - timedelta(days=10), "n-old-1"),
        delivery("d-pending-expired", "pending", NOW - timedelta(days=10), "n-old-1"),
    )
    await db.add(
        notifier_orm.alert_digests,
        {
            "borough": "Croydon",
            "day": (NOW - timedelta(days=400)).date(),
            "delivery_id": "x",
            "open_alerts": 3,
            "created_at": NOW - timedelta(days=400),
        },
        {
            "borough": "Croydon",
            "day": (NOW - timedelta(days=3)).date(),
            "delivery_id": "y",
            "open_alerts": 1,
            "created_at": NOW - timedelta(days=3),
        },
    )
    await db.add(
        notifier_orm.rejections,
        {
            "rejection_id": "nx-old",
            "source": "fire",
            "event": {},
            "received_at": NOW - timedelta(days=800),
        },
        {
            "rejection_id": "nx-kept",
            "source": "fire",
            "event": {},
            "received_at": NOW - timedelta(days=100),
        },
    )
    await db.add(
        notifier_orm.audit_log,
        *(
            {
                "event_id": f"audit-{rid}",
                "at": EXPIRED_REFERRAL - timedelta(days=365),
                "service": "notifier",
                "actor_role": "coordinator",
                "actor_subject": "coordinator-1",
                "action": "read",
                "resource_type": "ServiceRequest",
                "resource_ids": [rid],
                "method": "GET",
                "route": "/fhir/ServiceRequest/{id}",
                "outcome": "allowed",
            }
            for rid in ("n-old-1", "n-recent")
        ),
    )
    await db.add(notifier_orm.processed_events, *processed("notifier", timedelta(days=61)))

    done = await db.sweep(notifier_steps(db.sessions))

    survivors = {"n-recent", "n-open"}
    assert await db.column(notifier_orm.tasks, "referral_id") == survivors
    assert await db.column(notifier_orm.service_requests, "referral_id") == survivors
    assert await db.column(notifier_orm.task_history, "referral_id") == survivors
    assert await db.column(notifier_orm.alerts, "referral_id") == survivors
    assert await db.column(notifier_orm.person_records, "referral_id") == {"n-recent"}
    assert await db.column(notifier_orm.person_reviews, "review_id") == {"review-n-open-n-recent"}
    assert await db.column(notifier_orm.deliveries, "delivery_id") == {
        "d-old-pending",
        "d-recent",
        "d-pending-expired",
    }
    assert await db.column(notifier_orm.alert_digests, "delivery_id") == {"y"}
    assert await db.column(notifier_orm.rejections, "rejection_id") == {"nx-kept"}
    assert await db.column(notifier_orm.processed_events, "event_id") == {"notifier-new"}
    assert await db.count(notifier_orm.audit_log) == 2  # append-only: never swept
    assert done == {
        "notifier referrals (closed)": 3,
        "notifier referrals (never routed)": 1,
        "notifier.rejections": 1,
        "notifier.deliveries": 2,
        "notifier.alert_digests": 1,
        "notifier.processed_events": 1,
    }
    assert set((await db.sweep(notifier_steps(db.sessions))).values()) == {0}


async def test_replicas_sweeping_at_once_share_the_work(db: Db) -> None:
    old = NOW - timedelta(days=90)
    await db.add(
        intake_orm.processed_events,
        *({"consumer": "replicas", "event_id": f"e-{n}", "processed_at": old} for n in range(60)),
        {"consumer": "replicas", "event_id": "e-new", "processed_at": NOW},
    )

    def sweep() -> RetentionSweep:
        return RetentionSweep(POLICY, intake_steps(db.sessions), batch=5, clock=lambda: NOW)

    results = await asyncio.gather(*(sweep().sweep() for _ in range(3)))

    assert sum(r["intake.processed_events"] for r in results) == 60  # each row once
    assert await db.column(intake_orm.processed_events, "event_id") >= {"e-new"}
    async with db.engine.connect() as conn:
        left = await conn.scalar(
            text("select count(*) from intake.processed_events where consumer = 'replicas'")
        )
    assert left == 1
