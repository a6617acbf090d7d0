"""Routing new referrals on the router's unit of work kept in memory
(tests/support/fake_router.py): offers, waiting, redeliveries and poison, without PostgreSQL.
The same use cases on the real database: tests/integration/test_router_offers.py and the
router concurrency and chaos tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from hub_common.messaging.topics import Topics
from hub_router.domain.model import LinkWorker, ReferralToRoute
from hub_router.service_layer.routing import RoutingService
from tests.support.fake_router import FakeRoutingUnitOfWork, RouterTables
from tests.support.referrals import service_request

TOPICS = Topics("t")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def tables() -> RouterTables:
    worker = LinkWorker("lw-1", frozenset({"Croydon"}), frozenset({"CR7"}), max_new_per_day=2)
    return RouterTables(workers=[worker])


@pytest.fixture
def service(tables: RouterTables) -> RoutingService:
    return RoutingService(
        None,  # type: ignore[arg-type]  # no database: the unit of work is in memory
        TOPICS,
        clock=lambda: MONDAY,
        units=lambda today, routes, ids: FakeRoutingUnitOfWork(tables, today, routes, ids),
    )


def owners(tables: RouterTables) -> dict[str, str | None]:
    return {referral_id: row["owner"] for referral_id, row in tables.tasks.items()}


async def test_a_batch_offers_each_referral_once_in_one_commit(
    service: RoutingService, tables: RouterTables
) -> None:
    done = await service.route_batch([(service_request("r1"), "e1", None)])
    assert done == 1 and owners(tables) == {"r1": "lw-1"}
    assert [e.topic for e in tables.outbox] == [TOPICS.tasks]
    assert json.loads(tables.outbox[0].value)["owner"]["reference"].endswith("lw-1")
    assert len(tables.decisions) == 1 and tables.commits == 1


async def test_the_batch_counts_its_own_offers_against_the_daily_limit(
    service: RoutingService, tables: RouterTables
) -> None:
    requests = [(service_request(f"r{n}"), f"e{n}", None) for n in range(3)]
    assert await service.route_batch(requests) == 3
    # Two new a day: the third is offered for the next day the worker works.
    days = sorted(str(row["offered_on"]) for row in tables.tasks.values())
    assert days == ["2026-11-23", "2026-11-23", "2026-11-24"]


async def test_a_redelivered_event_or_referral_changes_nothing(
    service: RoutingService, tables: RouterTables
) -> None:
    await service.route_batch([(service_request("r1"), "e1", None)])
    again = [(service_request("r1"), "e1", None), (service_request("r1"), "e2", None)]
    assert await service.route_batch(again) == 0
    assert len(tables.outbox) == 1 and list(tables.tasks) == ["r1"]


async def test_an_unreadable_event_is_skipped_without_taking_the_batch_twice(
    tables: RouterTables,
) -> None:
    units: list[FakeRoutingUnitOfWork] = []

    def unit(today: date, routes: list[ReferralToRoute], ids: list[str]) -> FakeRoutingUnitOfWork:
        units.append(FakeRoutingUnitOfWork(tables, today, routes, ids))
        return units[-1]

    service = RoutingService(None, TOPICS, clock=lambda: MONDAY, units=unit)  # type: ignore[arg-type]
    requests = [
        (service_request("r1"), "e1", None),
        ({"resourceType": "ServiceRequest"}, "bad", None),
        (service_request("r2"), "e2", None),
    ]
    assert await service.route_batch(requests) == 2
    assert sorted(tables.tasks) == ["r1", "r2"] and tables.commits == 1
    assert len(units) == 1  # nothing was written for it, so nothing had to roll back


async def test_a_referral_nobody_covers_waits_for_a_coordinator_with_an_alert(
    service: RoutingService, tables: RouterTables
) -> None:
    owner = await service.route(service_request("far", postcode="SM1 1AA"), "e9", None)
    assert owner is None and owners(tables) == {"far": None}
    assert [e.topic for e in tables.outbox] == [TOPICS.tasks, TOPICS.alerts]
