"""The router's use cases beyond routing a batch (accepting, declining, assigning by hand,
onward referral, care plans, referrers' changes, service levels), run on its unit of work kept
in memory (tests/support/fake_router.py): what each writes, what it records for the outbox, and
that a refused change leaves nothing behind. The same use cases on PostgreSQL and Kafka:
tests/integration/test_router_offers.py, test_onward_referrals.py, test_router_sla.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.messaging.topics import Topics
from hub_common.security.audit import AuditEntry
from hub_router.adapters.fhir_onward import ConsentToShare, PersonToShare
from hub_router.adapters.service_lookup import ServiceEntry
from hub_router.domain.access import Viewer
from hub_router.domain.care_plan import Goal, PlanConflict
from hub_router.domain.model import LinkWorker
from hub_router.domain.offers import ProcessingRestricted, TaskNotVisible
from hub_router.domain.sla import SlaPolicy
from hub_router.domain.task_status import BusinessStatus, TaskStatus, TransitionRefused
from hub_router.service_layer.care_planning import CarePlanning, RecordCarePlan
from hub_router.service_layer.commands import (
    AcceptOffer,
    AssignByHand,
    ChangeTaskStatus,
    DeclineOffer,
)
from hub_router.service_layer.onward import OnwardReferrals, ReferOnward
from hub_router.service_layer.referral_changes import ReferralChanges
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.sla import SlaSweep
from hub_router.service_layer.task_progress import TaskProgress
from tests.support.fake_router import FakeRoutingUnitOfWork, RouterTables, memory_units
from tests.support.referrals import service_request

TOPICS = Topics("t")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CROYDON = Viewer(boroughs=frozenset({"Croydon"}))
SERVICE = ServiceEntry("svc-1", "Lunch club", "org-1", "Community Trust", None, True)


def audit(ids: tuple[str, ...] = ()) -> AuditEntry:
    return AuditEntry(
        "router", "link-worker", "lw-1", None, "update", "Task", "POST", "/fhir/Task", None,
        None, resource_ids=ids,
    )  # fmt: skip


class Router:
    """The router's use cases on one set of tables, with a clock the test moves."""

    def __init__(self, tables: RouterTables) -> None:
        self.tables = tables
        self.now = MONDAY
        clock = lambda: self.now  # noqa: E731
        units = memory_units(tables, TOPICS)
        self.routing = RoutingService(
            None,
            TOPICS,
            clock=clock,
            units=lambda today, routes, ids: FakeRoutingUnitOfWork(tables, today, routes, ids),
            changes=units,
        )
        self.progress = TaskProgress(None, TOPICS, clock=clock, units=units)
        self.onward = OnwardReferrals(None, TOPICS, clock=clock, units=units)
        self.plans = CarePlanning(None, TOPICS, clock=clock, units=units)
        self.changes = ReferralChanges(None, TOPICS, clock=clock, units=units)
        self.sla = SlaSweep(None, TOPICS, SlaPolicy(5, 12, 5), clock=clock, units=units)

    def events(self, topic: str) -> list[dict[str, object]]:
        return [json.loads(e.value) for e in self.tables.outbox if e.topic == topic]

    def types(self) -> list[str]:
        return [e.envelope.event_type for e in self.tables.outbox]


@pytest.fixture
def router() -> Router:
    workers = [
        LinkWorker("lw-1", frozenset({"Croydon"}), frozenset({"CR7"})),
        LinkWorker("lw-2", frozenset({"Croydon"}), frozenset({"CR7"})),
    ]
    tables = RouterTables(workers=workers, services={"svc-1": SERVICE})
    return Router(tables)


async def accepted(router: Router) -> str:
    """A referral routed (in memory) and accepted by whoever it was offered to."""
    worker = await router.routing.route(service_request("r1"), "e1", None)
    assert worker is not None
    await router.progress.accept(AcceptOffer("r1", worker))
    return worker


async def test_accepting_records_the_new_version_and_starts_the_service_levels(
    router: Router,
) -> None:
    worker = await accepted(router)
    row = router.tables.tasks["r1"]
    assert (row["status"], row["owner"], row["version"]) == ("accepted", worker, 2)
    tasks = router.events(TOPICS.tasks)
    assert [t["status"] for t in tasks] == ["requested", "accepted"]
    assert "r1" in router.tables.sla_timers


async def test_a_refused_change_commits_nothing(router: Router) -> None:
    worker = await accepted(router)
    before = (router.tables.commits, len(router.tables.outbox))
    other = "lw-2" if worker == "lw-1" else "lw-1"
    with pytest.raises(TaskNotVisible):  # not offered to them
        await router.progress.accept(AcceptOffer("r1", other))
    with pytest.raises(TaskNotVisible):
        await router.progress.accept(AcceptOffer("nobody", worker))
    assert (router.tables.commits, len(router.tables.outbox)) == before


async def test_a_decline_offers_the_referral_to_the_next_worker_with_its_audit(
    router: Router,
) -> None:
    first = await router.routing.route(service_request("r1"), "e1", None)
    assert first is not None
    entry = audit(("r1",))
    changed = await router.routing.decline(DeclineOffer("r1", first, "on leave", audit=entry))
    assert changed.stored.task.owner not in (None, first)
    assert [e.topic for e in router.tables.outbox][-2:] == [TOPICS.tasks, TOPICS.audit]
    assert [d["record"]["trigger"]["event"] for d in router.tables.decisions][-1] == (
        "offer declined"
    )
    audits = [e for e in router.tables.outbox if e.topic == TOPICS.audit]
    assert len(audits) == 1 and audits[0].key == "r1"


async def test_a_coordinator_assigns_by_hand_under_the_workers_limits(router: Router) -> None:
    first = await router.routing.route(service_request("r1"), "e1", None)
    other = "lw-2" if first == "lw-1" else "lw-1"
    changed = await router.routing.assign_by_hand(
        AssignByHand("r1", other, "co-1", CROYDON, audit=audit(("r1",)))
    )
    assert changed.stored.task.owner == other
    assert router.tables.decisions[-1]["record"]["trigger"]["event"] == "assigned by hand"
    with pytest.raises(TransitionRefused):
        await router.routing.assign_by_hand(AssignByHand("r1", other, "co-1", CROYDON))
    with pytest.raises(TaskNotVisible):
        outside = Viewer(boroughs=frozenset({"Sutton"}))
        await router.routing.assign_by_hand(AssignByHand("r1", first or "", "co-1", outside))


def refer(worker: str, audit_entry: AuditEntry | None = None) -> ReferOnward:
    return ReferOnward(
        referral_id="r1",
        worker_id=worker,
        service_id="svc-1",
        need=NeedCategory.LONELINESS_ISOLATION,
        person=PersonToShare("A Person", phone="01234 567890"),
        consent=ConsentToShare(MONDAY, "verbal"),
        audit=audit_entry,
    )


async def test_an_onward_referral_is_sent_once_per_service_and_answered(router: Router) -> None:
    worker = await accepted(router)
    task = await router.onward.refer(refer(worker, audit()))
    onward_id = task["id"]
    sent = router.events(TOPICS.onward)
    assert [(e["kind"], e["onwardId"]) for e in sent] == [("sent", onward_id)]
    assert router.tables.outbox[-1].topic == TOPICS.audit  # recorded after the event
    commits = router.tables.commits
    with pytest.raises(TransitionRefused):  # one open onward referral per service
        await router.onward.refer(refer(worker))
    assert router.tables.commits == commits
    with pytest.raises(TaskNotVisible):  # another organisation: it does not exist
        await router.onward.answer(onward_id, "org-2", lambda o: o.accept(), "accepted")
    await router.onward.answer(onward_id, "org-1", lambda o: o.accept(), "accepted")
    assert router.tables.onward[onward_id]["onward"].answered_at == router.now
    assert [e["kind"] for e in router.events(TOPICS.onward)] == ["sent", "accepted"]
    # The link worker's Task shows the support offered: one version up, published.
    assert router.tables.tasks["r1"]["version"] == 3
    assert router.events(TOPICS.tasks)[-1]["id"] == "r1"
    seen = await router.onward.of_referral(Viewer(worker_id=worker), "r1")
    assert [t["id"] for t in seen] == [onward_id]
    with pytest.raises(TaskNotVisible):
        await router.onward.of_referral(Viewer(boroughs=frozenset({"Sutton"})), "r1")


async def test_the_sweep_nudges_then_expires_an_unanswered_onward_referral(
    router: Router,
) -> None:
    worker = await accepted(router)
    onward_id = (await router.onward.refer(refer(worker)))["id"]
    onward = router.tables.onward[onward_id]["onward"]
    router.now = onward.nudge_at + timedelta(minutes=1)
    assert await router.onward.sweep() == 1
    assert [e["kind"] for e in router.events(TOPICS.onward)] == ["sent", "nudged"]
    router.now = onward.due_at + timedelta(minutes=1)
    assert await router.onward.sweep() == 1
    assert [e["kind"] for e in router.events(TOPICS.onward)][-1] == "expired"
    alerts = [e for e in router.tables.outbox if e.topic == TOPICS.alerts]
    assert [a.envelope.event_type for a in alerts] == ["OnwardReferralExpired"]
    assert await router.onward.sweep() == 0  # nothing left to check


async def test_a_care_plan_version_over_one_not_seen_is_refused(router: Router) -> None:
    worker = await accepted(router)
    goals = (Goal("Meet people weekly"),)
    await router.plans.record(RecordCarePlan("r1", worker, "company", goals, (), audit=audit()))
    await router.plans.record(RecordCarePlan("r1", worker, "company", goals, (), 1))
    with pytest.raises(PlanConflict):
        await router.plans.record(RecordCarePlan("r1", worker, "company", goals, (), 1))
    history = await router.plans.read(Viewer(worker_id=worker), "r1", history=True)
    assert len(history) == 2
    with pytest.raises(TaskNotVisible):
        await router.plans.read(Viewer(worker_id="someone-else"), "r1")
    # The plan is the person's own words: only the audit entry is ever published.
    assert [e.topic for e in router.tables.outbox if e.topic not in (TOPICS.tasks,)] == [
        TOPICS.audit
    ]


async def test_a_referrers_cancellation_applies_once(router: Router) -> None:
    await router.routing.route(service_request("r1"), "e1", None)
    cancelled = {**service_request("r1"), "status": "revoked", "meta": {"versionId": "2"}}
    assert await router.changes.apply(cancelled, "e2", None) is True
    assert await router.changes.apply(cancelled, "e2", None) is False  # redelivery
    assert await router.changes.apply(cancelled, "e3", None) is False  # same version again
    row = router.tables.tasks["r1"]
    assert (row["status"], row["version"]) == (TaskStatus.CANCELLED.value, 2)
    assert row["facts"]["referralVersion"] == 2


async def test_nobody_works_on_a_restricted_persons_referral_but_its_referrer_may_withdraw(
    router: Router,
) -> None:
    worker = await accepted(router)
    other = "lw-2" if worker == "lw-1" else "lw-1"
    router.tables.restricted.add("r1")
    before = (router.tables.commits, len(router.tables.outbox))
    goals = (Goal("Meet people weekly"),)
    refused = [
        router.progress.change_status(
            ChangeTaskStatus("r1", worker, TaskStatus.IN_PROGRESS, None, None)
        ),
        router.plans.record(RecordCarePlan("r1", worker, "company", goals, ())),
        router.onward.refer(refer(worker)),
        router.routing.assign_by_hand(AssignByHand("r1", other, "co-1", CROYDON)),
    ]
    for attempt in refused:
        with pytest.raises(ProcessingRestricted, match="restricted"):
            await attempt
    assert (router.tables.commits, len(router.tables.outbox)) == before

    cancelled = {**service_request("r1"), "status": "revoked", "meta": {"versionId": "2"}}
    assert await router.changes.apply(cancelled, "e2", None) is True
    assert router.tables.tasks["r1"]["status"] == TaskStatus.CANCELLED.value


async def test_the_sla_sweep_raises_a_breach_once(router: Router) -> None:
    await accepted(router)
    router.now = MONDAY + timedelta(days=30)
    assert await router.sla.sweep() == 1
    breaches = [e for e in router.tables.outbox if e.envelope.event_type == "SlaBreached"]
    assert breaches and {e.key for e in breaches} == {"r1"}
    assert len(router.tables.counted) == len(breaches)
    count = len(breaches)
    router.now += timedelta(hours=1)
    await router.sla.sweep()
    again = [e for e in router.tables.outbox if e.envelope.event_type == "SlaBreached"]
    assert len(again) == count
    # First contact resolves the first-contact breach, in the same change.
    owner = router.tables.tasks["r1"]["owner"]
    await router.progress.change_status(
        ChangeTaskStatus("r1", owner, TaskStatus.IN_PROGRESS, BusinessStatus.FIRST_CONTACT_MADE)
    )
    assert router.types()[-2:] == ["TaskChanged", "SlaBreachResolved"]
