"""What the web pages compute from Tasks: timelines, coordinator figures, chart geometry."""

from datetime import UTC, datetime, timedelta

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import Instrument, Timepoint, WellbeingMeasure
from hub_web.domain.charts import WIDTH, bar_chart
from hub_web.domain.metrics import (
    caseload_by_worker,
    describe_duration,
    referrals_per_source_week,
    time_to_first_contact,
)
from hub_web.domain.progress import moves_from
from hub_web.domain.tasks import task_view
from hub_web.domain.timeline import timeline
from hub_web.domain.waiting import waiting_referral
from tests.support.web_fakes import task

FIRST_CONTACT = Outcomes(
    measures=(
        WellbeingMeasure(
            Instrument.ONS4,
            Timepoint.FIRST_CONTACT,
            datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
            (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7)),
        ),
    )
)


def reached(milestones: list) -> list[str]:
    return [m.label for m in milestones if m.reached]


def test_a_task_is_read_into_what_the_pages_show() -> None:
    view = task_view(
        task(
            "r1",
            owner="lw-1",
            reference="CVA-9",
            outcomes=Outcomes(
                support=(SupportOffered(NeedCategory.HOUSING, SupportKind.REFERRED, "Café"),)
            ),
        )
    )
    assert (view.id, view.owner, view.source, view.referrer_reference) == (
        "r1",
        "lw-1",
        "community",
        "CVA-9",
    )
    assert view.is_offer and not view.is_rejection
    assert view.services_connected == ("Café",)


def test_an_offer_shows_received_and_offered_with_the_rest_ahead() -> None:
    milestones = timeline(task_view(task("r1")))
    assert reached(milestones) == ["Referral received by the hub", "Offered to a link worker"]
    current = next(m for m in milestones if m.current)
    assert current.at == datetime(2026, 11, 20, 10, 5, tzinfo=UTC)


def test_a_waiting_referral_is_current_and_dated() -> None:
    milestones = timeline(task_view(task("r1", step="awaiting-allocation", owner=None)))
    current = next(m for m in milestones if m.current)
    assert current.label.startswith("Waiting for a coordinator") and current.at is not None


def test_a_completed_referral_reached_every_milestone_and_dates_first_contact() -> None:
    done = task_view(
        task("r1", status="completed", step="connected-to-services", outcomes=FIRST_CONTACT)
    )
    milestones = timeline(done)
    assert all(m.reached for m in milestones)
    contact = next(m for m in milestones if m.label.startswith("First contact"))
    assert contact.at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert milestones[-1].label == "Completed" and milestones[-1].current


def test_a_failed_referral_without_contact_does_not_claim_contact() -> None:
    milestones = timeline(task_view(task("r1", status="failed", step="unable-to-contact")))
    assert "First contact made with the person" not in reached(milestones)
    assert milestones[-1].label == "Closed without success"


def test_caseload_counts_open_referrals_per_worker_by_status() -> None:
    tasks = [
        task_view(task("a", owner="lw-2")),
        task_view(task("b", owner="lw-1", status="accepted", step="allocated")),
        task_view(task("c", owner="lw-1", status="completed", step="first-contact-made")),
        task_view(task("d", owner=None, step="awaiting-allocation")),
    ]
    loads = caseload_by_worker(tasks)
    assert list(loads) == ["lw-1", "lw-2"]
    assert loads["lw-1"] == {"accepted": 1} and loads["lw-2"] == {"requested": 1}


def test_referrals_are_counted_per_source_per_iso_week() -> None:
    tasks = [
        task_view(task("a", authored_on="2026-11-16T09:00:00Z")),  # Monday, week 47
        task_view(task("b", authored_on="2026-11-22T23:00:00Z", source="police")),  # Sunday
        task_view(task("c", authored_on="2026-11-23T09:00:00Z")),  # week 48
    ]
    sources, weeks = referrals_per_source_week(tasks)
    assert sources == ["community", "police"]
    assert weeks == {"2026-W47": {"community": 1, "police": 1}, "2026-W48": {"community": 1}}


def test_time_to_first_contact_uses_the_recorded_time_or_the_current_step() -> None:
    recorded = task_view(
        task("a", status="completed", step="connected-to-services", outcomes=FIRST_CONTACT)
    )  # 2 days after 2026-11-20T10:00
    current = task_view(
        task(
            "b",
            status="in-progress",
            step="first-contact-made",
            last_modified="2026-11-20T15:00:00Z",
        )
    )
    unknown = task_view(task("c", status="accepted", step="allocated"))
    times = time_to_first_contact([recorded, current, unknown])
    assert dict(times.bands)["Under 1 day"] == 1 and dict(times.bands)["1 to 3 days"] == 1
    assert (times.measured, times.not_yet_known) == (2, 1)
    assert times.median == (timedelta(hours=5) + timedelta(days=2)) / 2


def test_durations_read_naturally() -> None:
    assert describe_duration(timedelta(days=1, hours=4)) == "1 day 4 hours"
    assert describe_duration(timedelta(hours=2)) == "2 hours"
    assert describe_duration(timedelta(minutes=5)) == "under an hour"


def test_bars_share_one_scale_and_stack_their_series() -> None:
    chart = bar_chart("t", "u", [("a", [2, 2], 8), ("b", [1, 0], None)], ["x", "y"])
    first, second = chart.rows
    assert first.limit_x is not None and first.limit_x > first.segments[-1].x
    assert first.segments[1].x == first.segments[0].width  # stacked
    assert len(second.segments) == 1  # a zero draws nothing
    assert second.values == (1, 0)
    assert all(s.x + s.width <= WIDTH for row in chart.rows for s in row.segments)


def test_an_empty_chart_says_so() -> None:
    assert bar_chart("t", "u", []).empty


def test_the_waiting_page_groups_exclusions_and_keeps_the_decline_reason() -> None:
    entry = {
        "referralId": "r1",
        "borough": "Merton",
        "district": "SW19",
        "needs": ["carer-support", "made-up"],
        "failedOffers": 1,
        "offeredTo": ["lw-2"],
        "waitingSince": "2026-11-23T10:00:00+00:00",
        "decision": {
            "why": "no-eligible-worker",
            "excluded": {"lw-1": "does not cover the person's area", "lw-3": "inactive"},
            "scores": {},
            "trigger": {"event": "offer declined", "worker": "lw-2", "reason": "On leave"},
        },
    }
    referral = waiting_referral(entry)
    assert referral.needs == ("Carer support", "made-up")
    assert [e.reason for e in referral.exclusions] == [
        "does not cover the person's area",
        "inactive",
    ]
    assert referral.decline_reason == "On leave"
    assert [c.worker_id for c in referral.candidates] == ["lw-1", "lw-3"]
    assert referral.why.startswith("No link worker could take it")


def test_forms_offer_only_moves_that_can_work() -> None:
    offered = moves_from("requested", "offered")
    assert not offered.statuses and not offered.can_complete
    accepted = moves_from("accepted", "allocated")
    assert accepted.can_record_first_contact and not accepted.can_complete
    contacted = moves_from("in-progress", "first-contact-made")
    assert contacted.can_complete and not contacted.can_record_first_contact
    assert not moves_from("completed", "connected-to-services").statuses
