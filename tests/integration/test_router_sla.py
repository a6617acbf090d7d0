"""Service level timers on real PostgreSQL: acceptance starts them, the sweep raises each breach
once (however often it runs, and with several sweeping at once), first contact and closure
resolve them; the alerts are the outbox rows that would be published on `hub.alerts`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub_common.fhir.task_outputs import Outcomes
from hub_common.jsonio import loads
from hub_common.messaging.topics import Topics
from hub_common.storage.db import make_session_factory
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.domain.offers import OfferTimeout
from hub_router.domain.sla import SlaPolicy
from hub_router.domain.task_status import BusinessStatus as B
from hub_router.domain.task_status import TaskStatus as S
from hub_router.service_layer.commands import AcceptOffer, ChangeTaskStatus
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.sla import SlaSweep
from hub_router.service_layer.task_progress import TaskProgress
from tests.support.infra import Infrastructure
from tests.support.referrals import service_request
from tests.support.router_support import MovableClock, add_workers, empty_router_tables, own_stack
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# Five working days after Monday 23 November is Monday 30 November: due by its end (GMT).
FIRST_CONTACT_DUE = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
# Five more working days: Monday 7 December.
ESCALATION_DUE = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)


@dataclass
class Router:
    engine: AsyncEngine
    clock: MovableClock
    routing: RoutingService
    progress: TaskProgress
    sla: SlaSweep
    topics: Topics

    async def alerts(self, referral_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(event type, value) of the service level alerts staged, in publication order."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "select headers, value from router.outbox"
                    " where headers->>'event-type' like 'SlaBreach%'"
                    " and (cast(:k as text) is null or key = :k) order by seq"
                ),
                {"k": referral_id},
            )
            return [(row.headers["event-type"], loads(row.value)) for row in rows]

    async def accepted(self, referral_id: str, worker: str = "a") -> None:
        await self.routing.route(service_request(referral_id), f"event-{referral_id}", None)
        await self.progress.accept(AcceptOffer(referral_id, worker))

    async def change(
        self,
        referral_id: str,
        status: S,
        step: B,
        outputs: Outcomes | None = None,
        reason: str | None = None,
    ) -> None:
        await self.progress.change_status(
            ChangeTaskStatus(referral_id, "a", status, step, reason, outputs)
        )


@pytest.fixture(scope="module")
async def stack_of_our_own(infra: Infrastructure) -> AsyncIterator[IsolatedStack]:
    async with own_stack(infra) as stack:
        yield stack


@pytest.fixture
async def router(stack_of_our_own: IsolatedStack) -> AsyncIterator[Router]:
    engine = create_async_engine(stack_of_our_own.database_url, pool_size=10)
    await empty_router_tables(engine)
    clock = MovableClock(MONDAY)
    sessions = make_session_factory(engine)
    topics = stack_of_our_own.topics
    routing = RoutingService(
        sessions, topics, clock=clock, max_failed_offers=3, offer_timeout=OfferTimeout()
    )
    worker = LinkWorker(
        "a",
        boroughs=frozenset({"Croydon"}),
        postcode_districts=frozenset({"CR7"}),
        working_days=frozenset(WEEKDAYS),
        max_caseload=100,
        max_new_per_day=100,
    )
    await add_workers(routing, worker)
    yield Router(
        engine,
        clock,
        routing,
        TaskProgress(sessions, topics, clock=clock),
        SlaSweep(sessions, topics, SlaPolicy(5, 12, 5), clock=clock),
        topics,
    )
    await engine.dispose()


async def sweep_all(router: Router) -> None:
    while await router.sla.sweep(limit=10) >= 10:
        pass


async def test_a_missed_first_contact_is_raised_once_then_escalates_once_then_resolves(
    router: Router,
) -> None:
    await router.accepted("r1")
    await sweep_all(router)  # works out the first deadline; nothing is due yet
    router.clock.now = FIRST_CONTACT_DUE - timedelta(seconds=1)
    await sweep_all(router)
    assert await router.alerts() == []

    router.clock.now = FIRST_CONTACT_DUE
    await sweep_all(router)
    await sweep_all(router)  # run twice: still one alert
    assert await router.alerts() == [
        (
            "SlaBreached",
            {
                "alert": "sla-breach",
                "rule": "first-contact",
                "level": "breach",
                "referralId": "r1",
                "task": "Task/r1",
                "borough": "Croydon",
                "dueAt": FIRST_CONTACT_DUE.isoformat(),
                "raisedAt": FIRST_CONTACT_DUE.isoformat(),
            },
        )
    ]

    router.clock.now = ESCALATION_DUE
    await sweep_all(router)
    await sweep_all(router)
    kinds = [(kind, value["rule"], value.get("level")) for kind, value in await router.alerts()]
    assert kinds == [
        ("SlaBreached", "first-contact", "breach"),
        ("SlaBreached", "first-contact", "escalated"),
    ]

    await router.change("r1", S.IN_PROGRESS, B.FIRST_CONTACT_MADE)
    await sweep_all(router)
    resolved = (await router.alerts())[2:]
    assert resolved == [
        (
            "SlaBreachResolved",
            {
                "alert": "sla-breach-resolved",
                "rule": "first-contact",
                "resolution": "first-contact-made",
                "referralId": "r1",
                "task": "Task/r1",
                "borough": "Croydon",
                "raisedAt": ESCALATION_DUE.isoformat(),
            },
        )
    ]
    # The next step (services connected) is not a second first contact: nothing more.
    await router.change("r1", S.IN_PROGRESS, B.CONNECTED_TO_SERVICES)
    assert len(await router.alerts()) == 3


async def test_closure_is_due_in_twelve_weeks_and_closing_resolves_it(router: Router) -> None:
    await router.accepted("r2")
    await router.change("r2", S.IN_PROGRESS, B.FIRST_CONTACT_MADE)  # in time: no breach
    router.clock.now = MONDAY.replace(day=30)  # a week later
    await sweep_all(router)
    assert await router.alerts() == []

    router.clock.now = datetime(2027, 2, 15, 10, 0, tzinfo=UTC)  # twelve weeks on
    await sweep_all(router)
    await sweep_all(router)
    [(kind, breach)] = await router.alerts()
    assert (kind, breach["rule"], breach["level"], breach["dueAt"]) == (
        "SlaBreached",
        "closure",
        "breach",
        "2027-02-15T10:00:00+00:00",
    )
    await router.change("r2", S.COMPLETED, B.FIRST_CONTACT_MADE, Outcomes("settled"))
    [_, (kind, resolved)] = await router.alerts()
    assert (kind, resolved["rule"], resolved["resolution"]) == (
        "SlaBreachResolved",
        "closure",
        "closed",
    )
    async with router.engine.connect() as conn:
        pending = await conn.scalar(
            text("select count(*) from router.sla_timers where next_due_at is not null")
        )
    assert pending == 0  # a closed referral is never read by the sweep again


async def test_a_referral_closed_in_time_raises_and_resolves_nothing(router: Router) -> None:
    await router.accepted("r3")
    await router.change("r3", S.FAILED, B.UNABLE_TO_CONTACT, reason="no answer")
    router.clock.now = datetime(2027, 6, 1, tzinfo=UTC)
    await sweep_all(router)
    assert await router.alerts() == []


async def test_replicas_sweeping_at_once_raise_each_breach_once(router: Router) -> None:
    for i in range(25):
        await router.accepted(f"s{i}")
    router.clock.now = FIRST_CONTACT_DUE
    await asyncio.gather(*(router.sla.sweep(limit=4) for _ in range(6)))
    await sweep_all(router)
    alerts = await router.alerts()
    assert sorted(value["referralId"] for _, value in alerts) == sorted(f"s{i}" for i in range(25))
    assert {(value["rule"], value["level"]) for _, value in alerts} == {("first-contact", "breach")}


async def test_the_configured_days_decide(router: Router) -> None:
    sessions = make_session_factory(router.engine)
    one_day = SlaSweep(sessions, router.topics, SlaPolicy(1, 12, 5), clock=router.clock)
    await router.accepted("r5")
    router.clock.now = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # end of Tuesday
    await sweep_all(replace(router, sla=one_day))
    [(_, breach)] = await router.alerts()
    assert breach["dueAt"] == "2026-11-25T00:00:00+00:00"
