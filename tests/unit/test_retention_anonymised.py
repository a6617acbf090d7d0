"""A closed referral's Task kept for the figures: the person is gone, the figures' inputs stay;
and every table of every service has a retention decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData

from hub_common.fhir.task_outputs import read_outputs
from hub_common.jsonio import dumps
from hub_intake.adapters import orm as intake_orm
from hub_intake.adapters import retention_store as intake_retention
from hub_notifier.adapters import orm as notifier_orm
from hub_notifier.adapters import retention_store as notifier_retention
from hub_router.adapters import orm as router_orm
from hub_router.adapters import retention_store as router_retention
from hub_router.adapters.anonymised import anonymised_facts, anonymised_task
from hub_router.adapters.fhir_task import task_snapshot
from hub_web.domain.tasks import task_view
from tests.unit.test_fhir_r4_schema import errors
from tests.unit.test_task_outputs import FULL

REFERRAL = "ref-1"
EPISODE = "episode-of-someone"
CLOSED = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def closed_task() -> dict:
    return task_snapshot(
        referral_id=REFERRAL,
        episode_id=EPISODE,
        version=7,
        status="completed",
        business_status="connected-to-services",
        owner="lw-croydon-01",
        requester={
            "type": "Organization",
            "identifier": {"system": "https://referral-hub.org/fhir/Id/agency", "value": "police"},
        },
        referrer_identifier={
            "system": "https://referral-hub.org/fhir/Id/referrer-ref/police",
            "value": "MPS-OCC-2026-77123",
        },
        authored_on="2026-09-01T09:00:00+00:00",
        last_modified=CLOSED,
        status_reason="Moved in with her daughter Jane in Leeds",
        outcomes=FULL,
    )


def test_nothing_that_leads_to_the_person_is_left() -> None:
    task = closed_task()
    kept = dumps(anonymised_task(task, REFERRAL)).decode()
    for trace in (EPISODE, "MPS-OCC-2026-77123", "Jane", "Leeds", FULL.summary):
        assert trace in dumps(task).decode()  # it was there before
        assert trace not in kept


def test_what_the_figures_read_is_kept() -> None:
    task = closed_task()
    kept = anonymised_task(task, REFERRAL)
    before, after = task_view(task), task_view(kept)
    assert after.source == before.source == "police"
    assert after.authored_on == before.authored_on
    assert (after.status, after.step, after.owner) == (before.status, before.step, before.owner)
    assert after.last_modified == before.last_modified
    assert read_outputs(kept).measures == FULL.measures
    assert read_outputs(kept).support == FULL.support
    assert kept["for"]["identifier"]["value"] == REFERRAL  # its own subject, linked to nothing


def test_the_kept_task_is_still_valid_fhir() -> None:
    assert errors(anonymised_task(closed_task(), REFERRAL)) == []


def test_facts_keep_needs_and_borough_only() -> None:
    facts = {
        "requester": {"type": "Organization"},
        "referrerIdentifier": {"system": "s", "value": "MPS-OCC-2026-77123"},
        "authoredOn": "2026-09-01T09:00:00+00:00",
        "route": {
            "referral_id": REFERRAL,
            "episode_id": EPISODE,
            "district": "CR7",
            "borough": "Croydon",
            "needs": ["housing"],
            "language": "pl",
            "interpreter_needed": True,
            "risk_flagged": True,
        },
    }
    kept = anonymised_facts(facts, REFERRAL)
    assert kept["route"]["borough"] == "Croydon"
    assert kept["route"]["needs"] == ["housing"]
    text = dumps(kept).decode()
    for trace in (EPISODE, "CR7", '"pl"', "MPS-OCC"):
        assert trace not in text
    assert kept["anonymised"] is True


@pytest.mark.parametrize(
    ("metadata", "tables"),
    [
        (intake_orm.metadata, intake_retention.TABLES),
        (router_orm.metadata, router_retention.TABLES),
        (notifier_orm.metadata, notifier_retention.TABLES),
    ],
)
def test_every_table_has_a_retention_decision(metadata: MetaData, tables: dict[str, str]) -> None:
    # A new table must say in its service's retention_store how long it keeps what it holds.
    assert {table.name for table in metadata.tables.values()} == set(tables)
