from datetime import date
from pathlib import Path

import pytest

from hub_common.fhir.needs import NeedCategory
from hub_common.region.service_area import district_boroughs
from hub_router.adapters.practitioner_role import from_practitioner_role, to_practitioner_role
from hub_router.adapters.roster_file import entry_from_row, read_roster
from hub_router.domain.model import LinkWorker

REPO = Path(__file__).resolve().parents[2]


def test_a_worker_survives_the_round_trip_through_practitioner_role() -> None:
    worker = LinkWorker(
        "lw-1",
        boroughs=frozenset({"Merton"}),
        postcode_districts=frozenset({"SW19", "CR4"}),
        needs=frozenset({NeedCategory.BEREAVEMENT}),
        languages=frozenset({"en", "pl"}),
        max_caseload=24,
        max_new_per_day=6,
        working_days=frozenset({"Mon", "Wed"}),
        leave=((date(2026, 12, 1), date(2026, 12, 5)),),
        risk_cleared=True,
        active=True,
    )
    role = to_practitioner_role(worker, "Test Name", "t@example.org")
    assert from_practitioner_role(role) == worker


def test_the_demo_roster_loads_and_stays_inside_south_west_london() -> None:
    entries = read_roster(REPO / "deploy/demo/linkworkers.csv")
    assert len(entries) >= 18
    served = set(district_boroughs())
    for entry in entries:
        assert entry.worker.postcode_districts <= served, entry.worker.worker_id


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"worker_id": ""}, "row 7, column worker_id: required"),
        ({"worker_id": "x", "needs": "gardening"}, "row 7, column needs"),
        ({"worker_id": "x", "working_days": "Monday"}, "unknown day 'Monday'"),
        (
            {"worker_id": "x", "max_caseload": "lots"},
            "column max_caseload: expected a positive whole number",
        ),
        ({"worker_id": "x", "risk_cleared": "maybe"}, "column risk_cleared: expected Y or N"),
    ],
)
def test_roster_errors_name_the_row_and_column(row: dict[str, str], message: str) -> None:
    problems: list[str] = []
    assert entry_from_row(row, 7, problems) is None
    assert any(message in problem for problem in problems), problems


def test_service_acls_grant_each_service_only_its_own_topics() -> None:
    from hub_cli.kafka_acls import service_grants
    from hub_common.messaging.topics import Topics

    grants = service_grants(Topics("p."), "p.")
    writes = {(g.principal, name) for g in grants if "Write" in g.operations for name in g.names}
    assert ("intake", "p.referrals.requested") in writes
    assert ("router", "p.referrals.tasks") in writes
    assert not any(user == "notifier" and name == "p.referrals.tasks" for user, name in writes)
    assert not any(name.startswith("p.referrals.inbound") for _, name in writes)  # agencies only
    assert {("intake", "p.hub.audit"), ("router", "p.hub.audit"), ("notifier", "p.hub.audit")} <= (
        writes
    )
    reads = {(g.principal, name) for g in grants if "Read" in g.operations for name in g.names}
    assert [user for user, name in reads if name == "p.hub.audit"] == ["notifier"]


def test_only_the_notifier_reads_the_alerts_and_only_the_router_writes_them() -> None:
    from hub_cli.kafka_acls import service_grants
    from hub_common.messaging.topics import Topics

    grants = service_grants(Topics("p."), "p.")
    topic_grants = [g for g in grants if g.resource == "topic"]
    reads = {
        g.principal for g in topic_grants if "Read" in g.operations if "p.hub.alerts" in g.names
    }
    writes = {
        g.principal for g in topic_grants if "Write" in g.operations if "p.hub.alerts" in g.names
    }
    assert (reads, writes) == ({"notifier"}, {"router"})
