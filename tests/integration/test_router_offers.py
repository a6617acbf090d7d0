"""Offers, declines, deadlines, progress and assignment by hand: the router's use cases on real
PostgreSQL, checking the rows and the outbox (what would be published) after each change."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub_common.fhir.needs import NeedCategory as N
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered, read_outputs
from hub_common.jsonio import loads
from hub_common.storage.db import make_session_factory
from hub_router.adapters import task_repository as repo
from hub_router.adapters import worker_roster
from hub_router.domain.access import Viewer
from hub_router.domain.model import WEEKDAYS, LinkWorker
from hub_router.domain.offers import OfferNotOpen, OfferTimeout, TaskNotVisible
from hub_router.domain.task_status import BusinessStatus as B
from hub_router.domain.task_status import TaskStatus as S
from hub_router.domain.task_status import TransitionRefused
from hub_router.service_layer.commands import (
    AcceptOffer,
    AssignByHand,
    ChangeTaskStatus,
    DeclineOffer,
    RebalanceWaiting,
)
from hub_router.service_layer.coordination import UnknownWorker
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.task_progress import TaskProgress
from hub_router.service_layer.views import TaskViews
from tests.support.infra import Infrastructure
from tests.support.referrals import service_request
from tests.support.router_support import MovableClock, add_workers, empty_router_tables, own_stack
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CROYDON = Viewer(boroughs=frozenset({"Croydon"}))


def lw(worker_id: str, **changes: Any) -> LinkWorker:
    base = LinkWorker(
        worker_id,
        boroughs=frozenset({"Croydon"}),
        postcode_districts=frozenset({"CR7"}),
        working_days=frozenset(WEEKDAYS),
    )
    return replace(base, **changes)


@dataclass
class Router:
    engine: AsyncEngine
    clock: MovableClock
    routing: RoutingService
    progress: TaskProgress
    views: TaskViews

    async def published(self, referral_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(event type, value) of every event staged for this referral, in publication order."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("select headers, value from router.outbox where key = :k order by seq"),
                {"k": referral_id},
            )
            return [(row.headers["event-type"], loads(row.value)) for row in rows]

    async def tasks(self, referral_id: str) -> list[dict[str, Any]]:
        return [value for kind, value in await self.published(referral_id) if kind == "TaskChanged"]

    async def route(self, referral_id: str, **request: Any) -> str | None:
        return await self.routing.route(
            service_request(referral_id, **request), f"event-{referral_id}", None
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
    yield Router(
        engine,
        clock,
        RoutingService(
            sessions, topics, clock=clock, max_failed_offers=3, offer_timeout=OfferTimeout()
        ),
        TaskProgress(sessions, topics, clock=clock),
        TaskViews(sessions),
    )
    await engine.dispose()


def owner(task: dict[str, Any]) -> str | None:
    reference: str | None = task.get("owner", {}).get("reference")
    return reference.removeprefix("PractitionerRole/") if reference else None


def step(task: dict[str, Any]) -> str:
    return str(task["businessStatus"]["coding"][0]["code"])


async def test_declines_pass_the_offer_on_until_a_coordinator_is_needed(router: Router) -> None:
    await add_workers(
        router.routing,
        lw("best", needs=frozenset({N.HOUSING})),
        lw("second"),
        lw("third", max_caseload=30),
        lw("uncalled"),
    )
    assert await router.route("r1", needs=(N.HOUSING,)) == "best"
    for worker, reason in (
        ("best", "on leave next week"),
        ("second", "too far"),
        ("third", "full"),
    ):
        await router.routing.decline(DeclineOffer("r1", worker, reason))
    tasks = await router.tasks("r1")
    assert [t["meta"]["versionId"] for t in tasks] == ["1", "2", "3", "4"]
    assert [owner(t) for t in tasks] == ["best", "second", "third", None]
    assert [step(t) for t in tasks] == ["offered"] * 3 + ["awaiting-allocation"]
    assert all("statusReason" not in t for t in tasks)  # decline reasons are never published

    [alert] = [value for kind, value in await router.published("r1") if kind != "TaskChanged"]
    assert alert == {
        "alert": "referral-awaiting-allocation",
        "why": "offers-exhausted",
        "referralId": "r1",
        "task": "Task/r1",
        "borough": "Croydon",
        "failedOffers": 3,
        "raisedAt": MONDAY.isoformat(),
    }
    [waiting] = await router.views.waiting(CROYDON)
    assert waiting["offeredTo"] == ["best", "second", "third"] and waiting["failedOffers"] == 3
    decision = waiting["decision"]
    assert decision["chosen"] is None and decision["why"] == "offers-exhausted"
    assert decision["trigger"] == {"event": "offer declined", "worker": "third", "reason": "full"}
    assert decision["excluded"]["best"] == "already offered this referral"
    assert "uncalled" in decision["scores"]  # the coordinator sees who could still take it
    assert await router.views.waiting(Viewer(boroughs=frozenset({"Sutton"}))) == []


async def test_only_the_offered_worker_answers_and_only_once(router: Router) -> None:
    await add_workers(router.routing, lw("a"), lw("b", max_caseload=10))
    await router.route("r2")
    with pytest.raises(TaskNotVisible):
        await router.progress.accept(AcceptOffer("r2", "b"))
    with pytest.raises(TaskNotVisible):
        await router.routing.decline(DeclineOffer("missing", "a", "no"))
    changed = await router.progress.accept(AcceptOffer("r2", "a"))
    assert (changed.snapshot["status"], step(changed.snapshot)) == ("accepted", "allocated")
    with pytest.raises(OfferNotOpen):
        await router.routing.decline(DeclineOffer("r2", "a", "changed my mind"))
    assert len(await router.tasks("r2")) == 2


async def test_unanswered_offers_expire_after_two_working_days(router: Router) -> None:
    # A Friday offer to a Monday-to-Friday worker runs until Tuesday.
    router.clock.now = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    await add_workers(
        router.routing,
        lw("weekday", working_days=frozenset(WEEKDAYS[:5])),
        lw("z-other", max_caseload=10),
    )
    assert await router.route("r3") == "weekday"
    router.clock.advance(days=3, hours=23)  # Monday night: not yet
    assert await router.routing.expire_overdue_offers() == 0
    router.clock.advance(hours=1)  # Tuesday 16:00
    assert await router.routing.expire_overdue_offers() == 1
    tasks = await router.tasks("r3")
    assert [(owner(t), t["meta"]["versionId"]) for t in tasks] == [
        ("weekday", "1"),
        ("z-other", "2"),
    ]
    assert owner(await router.views.read(Viewer(worker_id="z-other"), "r3")) == "z-other"
    with pytest.raises(TaskNotVisible):  # gone from the worker who did not answer
        await router.views.read(Viewer(worker_id="weekday"), "r3")


async def test_concurrent_sweeps_move_each_expired_offer_once(router: Router) -> None:
    await add_workers(
        router.routing, lw("a", max_new_per_day=40), lw("b", max_caseload=30, max_new_per_day=40)
    )
    for i in range(30):
        await router.route(f"s{i}")
    router.clock.advance(days=3)
    moved = await asyncio.gather(*(router.routing.expire_overdue_offers(limit=7) for _ in range(6)))
    while (more := await router.routing.expire_overdue_offers(limit=7)) > 0:
        moved.append(more)
    assert sum(moved) == 30  # each expired exactly once, whichever sweep claimed it
    for i in range(30):
        versions = [t["meta"]["versionId"] for t in await router.tasks(f"s{i}")]
        assert versions == ["1", "2"]


async def test_the_owner_records_progress_and_bad_moves_are_refused(router: Router) -> None:
    await add_workers(router.routing, lw("a"))
    await router.route("r4")
    await router.progress.accept(AcceptOffer("r4", "a"))

    def change(
        status: S | None,
        business: B | None = None,
        reason: str | None = None,
        outputs: Outcomes | None = None,
        worker: str = "a",
    ) -> ChangeTaskStatus:
        return ChangeTaskStatus("r4", worker, status, business, reason, outputs)

    await router.progress.change_status(change(S.IN_PROGRESS, B.CONTACT_ATTEMPTED))
    with pytest.raises(TransitionRefused, match="cannot move from in-progress to accepted"):
        await router.progress.change_status(change(S.ACCEPTED))
    with pytest.raises(TaskNotVisible):
        await router.progress.change_status(change(S.ON_HOLD, reason="x", worker="b"))
    await router.progress.change_status(change(S.ON_HOLD, reason="person in hospital"))
    await router.progress.change_status(change(S.IN_PROGRESS, B.FIRST_CONTACT_MADE))
    lunch = SupportOffered(N.LONELINESS_ISOLATION, SupportKind.ATTENDED, "Lunch club")
    outcomes = Outcomes("attends weekly", support=(lunch,))
    done = await router.progress.change_status(
        change(S.COMPLETED, B.CONNECTED_TO_SERVICES, outputs=outcomes)
    )
    assert read_outputs(done.snapshot) == outcomes
    tasks = await router.tasks("r4")
    assert [(t["meta"]["versionId"], t["status"], step(t)) for t in tasks] == [
        ("1", "requested", "offered"),
        ("2", "accepted", "allocated"),
        ("3", "in-progress", "contact-attempted"),
        ("4", "on-hold", "contact-attempted"),
        ("5", "in-progress", "first-contact-made"),
        ("6", "completed", "connected-to-services"),
    ]
    assert tasks[3]["statusReason"] == {"text": "person in hospital"}
    # Completed: no longer part of the caseload, so a full worker has room again.
    assert [
        t["id"] for t in await router.views.search(Viewer(worker_id="a"), status=S.COMPLETED)
    ] == ["r4"]


async def test_a_coordinator_assigns_by_hand_within_the_safety_rules(router: Router) -> None:
    await add_workers(
        router.routing,
        lw("near", max_caseload=1),
        lw("sutton", boroughs=frozenset({"Sutton"}), postcode_districts=frozenset({"SM1"})),
        lw("uncleared", boroughs=frozenset({"Sutton"}), postcode_districts=frozenset({"SM1"})),
    )
    await router.route("r5")  # takes near's only place
    assert await router.route("r6") is None  # nobody in CR7 has room: waits
    assign = AssignByHand("r6", "sutton", coordinator="coord-1", scope=CROYDON)
    with pytest.raises(TaskNotVisible):
        await router.routing.assign_by_hand(
            replace(assign, scope=Viewer(boroughs=frozenset({"Sutton"})))
        )
    with pytest.raises(TransitionRefused, match=r"caseload full \(1/1\)"):
        await router.routing.assign_by_hand(replace(assign, worker_id="near"))
    with pytest.raises(UnknownWorker):
        await router.routing.assign_by_hand(replace(assign, worker_id="nobody"))
    changed = await router.routing.assign_by_hand(assign)  # outside their area: allowed
    assert (
        owner(changed.snapshot),
        step(changed.snapshot),
        changed.snapshot["meta"]["versionId"],
    ) == (
        "sutton",
        "offered",
        "2",
    )
    await router.route("r7", risk="high")
    with pytest.raises(TransitionRefused, match="not cleared"):
        await router.routing.assign_by_hand(
            replace(assign, referral_id="r7", worker_id="uncleared")
        )


async def test_a_second_request_for_a_waiting_referral_publishes_nothing(router: Router) -> None:
    assert await router.route("r8") is None  # no workers at all
    await add_workers(router.routing, lw("a"))
    await router.routing.route(service_request("r8"), "another-event-id", None)
    assert [t["meta"]["versionId"] for t in await router.tasks("r8")] == ["1"]


async def test_concurrent_routing_never_overfills_a_worker(router: Router) -> None:
    await add_workers(
        router.routing, lw("a", max_caseload=7, max_new_per_day=5), lw("b", max_caseload=4)
    )
    owners = await asyncio.gather(*(router.route(f"c{i}") for i in range(40)))
    # Seven days of lookahead: a's daily limit spreads its seven places over two days.
    assert Counter(owners) == {"a": 7, "b": 4, None: 29}
    async with router.engine.connect() as conn:
        per_day = (
            await conn.execute(
                text(
                    "select owner, offered_on, count(*) from router.tasks where owner is not null group by 1, 2"
                )
            )
        ).all()
    assert all(count <= 5 for _, _, count in per_day)


async def test_a_coordinator_rebalances_the_waiting_backlog_optimally(router: Router) -> None:
    for i in range(5):
        assert await router.route(f"w{i}") is None  # no workers yet: all wait
    await router.route("w-sutton", postcode="SM1 1AA")
    # "wide" covers both districts; "narrow" only CR7. One place each today.
    await add_workers(
        router.routing,
        lw("narrow", max_new_per_day=1),
        lw(
            "wide",
            postcode_districts=frozenset({"CR7", "SM1"}),
            boroughs=frozenset(),
            max_new_per_day=1,
        ),
    )
    offered = await router.routing.rebalance_waiting(RebalanceWaiting("coord-1", CROYDON))
    # Croydon's coordinator rebalances Croydon only; both places used, nobody over a limit.
    assert sorted(offered.values()) == ["narrow", "wide"]
    assert set(offered) <= {f"w{i}" for i in range(5)}
    for referral_id, worker in offered.items():
        [_first, second] = await router.tasks(referral_id)
        assert (owner(second), step(second), second["meta"]["versionId"]) == (
            worker,
            "offered",
            "2",
        )
    assert len(await router.views.waiting(CROYDON)) == 3
    assert await router.routing.rebalance_waiting(RebalanceWaiting("coord-1", CROYDON)) == {}


async def test_the_cached_roster_follows_every_directory_change_and_parses_only_changes(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    original = worker_roster.from_practitioner_role

    def counting(role: dict[str, Any]) -> LinkWorker:
        worker = original(role)
        parsed.append(worker.worker_id)
        return worker

    monkeypatch.setattr(worker_roster, "from_practitioner_role", counting)
    roster = worker_roster.WorkerRoster()
    sessions = make_session_factory(router.engine)

    async def active() -> dict[str, LinkWorker]:
        async with sessions() as session:
            return {worker.worker_id: worker for worker in await roster.active(session)}

    await add_workers(router.routing, lw("lw-a"), lw("lw-b"))
    assert set(await active()) == {"lw-a", "lw-b"}
    assert set(await active()) == {"lw-a", "lw-b"}
    assert sorted(parsed) == ["lw-a", "lw-b"]  # the second batch parsed nothing

    await add_workers(router.routing, lw("lw-a", postcode_districts=frozenset({"CR0"})))
    assert (await active())["lw-a"].postcode_districts == {"CR0"}
    assert sorted(parsed) == ["lw-a", "lw-a", "lw-b"]

    await add_workers(router.routing, lw("lw-b", active=False))
    assert set(await active()) == {"lw-a"}
    await router.routing.apply_directory_entry("lw-a", None)  # a tombstone
    assert await active() == {}
    await add_workers(router.routing, lw("lw-b"))
    assert set(await active()) == {"lw-b"}


async def test_changes_about_other_workers_do_not_wait_for_each_other(router: Router) -> None:
    """The assignment locks are per worker: while a transaction holds Croydon's worker, a
    Sutton referral is routed at once, and a Croydon one waits until that transaction ends."""
    sutton = lw("s", boroughs=frozenset({"Sutton"}), postcode_districts=frozenset({"SM1"}))
    await add_workers(router.routing, lw("c"), sutton)
    sessions = make_session_factory(router.engine)
    async with sessions.begin() as holder:
        await repo.lock_workers(holder, ["c"])
        assert await asyncio.wait_for(router.route("in-sutton", postcode="SM1 1AA"), 10) == "s"
        croydon = asyncio.create_task(router.route("in-croydon"))
        await asyncio.sleep(1.0)
        assert not croydon.done(), "a Croydon referral did not wait for Croydon's worker"
    assert await asyncio.wait_for(croydon, 10) == "c"
