"""What a referring agency may see of a Task: the hub's steps, never the casework."""

from __future__ import annotations

from datetime import UTC, datetime

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.security.disclosure import for_referrer
from hub_notifier.adapters.rejection_task import rejection_task
from hub_router.adapters.fhir_task import task_snapshot


def closed_task() -> dict[str, object]:
    task = task_snapshot(
        referral_id="r-1",
        episode_id="e-1",
        version=7,
        status="completed",
        business_status="connected-to-services",
        owner="lw-1",
        requester={"type": "Organization", "identifier": {"system": "s", "value": "v"}},
        referrer_identifier={},
        authored_on=None,
        last_modified=datetime(2026, 3, 1, tzinfo=UTC),
        outcomes=Outcomes(
            "Sings again",
            support=(
                SupportOffered(NeedCategory.LONELINESS_ISOLATION, SupportKind.ATTENDED, "Choir"),
            ),
        ),
    )
    return {**task, "note": [{"text": "a note"}]}


def test_casework_is_withheld_and_the_steps_kept() -> None:
    task = closed_task()
    shown = for_referrer(task)
    assert task["contained"] and task["output"]
    assert not {"output", "contained", "note", "input"} & shown.keys()
    assert shown["status"] == "completed" and shown["businessStatus"] == task["businessStatus"]
    assert shown["meta"] == task["meta"] and "output" in task  # a copy: the stored one is whole


def test_a_rejection_keeps_the_fields_the_agency_must_correct() -> None:
    event = {
        "source": "community",
        "rejectionId": "rej-1",
        "organisation": {"system": "s", "value": "v"},
        "outcome": {"issue": [{"severity": "error", "code": "required", "expression": ["x"]}]},
    }
    task = rejection_task(event, "s|v")
    assert task["output"] and for_referrer(task)["output"] == task["output"]
