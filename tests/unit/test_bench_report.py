"""The benchmark's arithmetic on synthetic data: a figure it prints must be one we can check."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

import httpx
import pytest

from benchmarks.load import Inbound
from benchmarks.measure import (
    DatabaseWork,
    HubObserver,
    RelayObserver,
    Usage,
    cpu_speed_ms,
    service_of,
)
from benchmarks.phases import Phase
from benchmarks.report import (
    goals,
    growth_lines,
    headline,
    hub_figures,
    idle_figures,
    quiet_lines,
    relay_figures,
    speed_changed_during,
    speed_drift,
    trickle_figures,
)
from benchmarks.run import HistorySeeder, growth, levels, parse_args
from benchmarks.stats import (
    hop_latencies,
    hop_throughput,
    latency_summary,
    percentile,
    ratio,
    throughput,
)
from benchmarks.webhook import WebhookReceiver, notified_referrals
from hub_common.jsonio import dumps


def test_percentiles_interpolate_between_ranks_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled order must not matter
    shuffled = values[::2] + values[1::2]
    assert percentile(shuffled, 50) == pytest.approx(50.5)
    assert percentile(shuffled, 95) == pytest.approx(95.05)
    assert percentile(shuffled, 99) == pytest.approx(99.01)
    assert percentile(shuffled, 0) == 1.0
    assert percentile(shuffled, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None  # an empty hop is "not measured", never 0
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_latency_summary_of_a_known_tail() -> None:
    # 98 fast referrals and two slow ones: the median ignores them, p99 and max do not.
    latencies = [10.0] * 98 + [500.0, 1000.0]
    summary = latency_summary(latencies)
    assert summary["count"] == 100
    assert summary["p50"] == 10.0
    assert summary["p95"] == 10.0
    assert summary["p99"] == pytest.approx(500.0 + 0.01 * 500.0)  # 0.01 of the way to 1000
    assert summary["max"] == 1000.0
    assert summary["mean"] == pytest.approx((980 + 1500) / 100)
    assert latency_summary([])["p50"] is None


def test_throughput_and_ratio() -> None:
    assert throughput(500, 1_000, 3_500) == pytest.approx(200.0)  # 500 in 2.5 s
    assert throughput(0, 1_000, 2_000) is None
    assert throughput(10, 2_000, 2_000) is None  # no elapsed time: not infinitely fast
    assert throughput(10, None, 2_000) is None
    assert ratio(50.0, 200.0) == pytest.approx(0.25)
    assert ratio(None, 200.0) is None
    assert ratio(50.0, 0.0) is None


def test_hops_count_only_referrals_that_made_both_ends() -> None:
    starts = {"a": 1_000.0, "b": 1_100.0, "c": 1_200.0}
    ends = {"a": 1_050.0, "b": 1_300.0}  # c never came out
    assert sorted(hop_latencies(starts, ends, ["a", "b", "c"])) == [50.0, 200.0]
    # Two done between the first entering (1000) and the last leaving (1300): 2 in 0.3 s.
    assert hop_throughput(starts, ends, ["a", "b", "c"]) == pytest.approx(2 / 0.3)
    assert hop_throughput(starts, {}, ["a"]) is None


def test_relay_figures_pair_each_hop_with_its_timelines() -> None:
    # Two messages, one a batch of three referrals: each referral counts, as in the hub.
    messages = [
        Inbound("community", "k1", b"{}", ("r1",)),
        Inbound("housing", "k2", b"x", ("r2", "r3", "r4")),
    ]
    observer = RelayObserver(["B", "C", "D"])
    observer.mark_published(messages[0], 0)
    observer.mark_published(messages[1], 1_000)
    for topic, k1, k2 in (("B", 10, 1_020), ("C", 30, 1_050), ("D", 60, 2_000)):
        observer.arrived[topic] |= {"r1": k1, "r2": k2, "r3": k2, "r4": k2}
    figures = relay_figures(Phase("saturation", messages, None), observer)

    assert figures["referrals"] == 4 and figures["messages"] == 2
    assert figures["latency_ms"]["hop1"]["max"] == 20  # B - published
    assert figures["latency_ms"]["hop2"]["p50"] == 30  # C - B, the same for all four
    assert figures["latency_ms"]["notified"]["max"] == 1_000  # D - published
    assert figures["throughput_per_s"]["notified"] == pytest.approx(4 / 2.0)  # 0 .. 2000 ms
    assert figures["throughput_per_s"]["assigned"] == pytest.approx(4 / 1.05)  # 0 .. 1050 ms

    hub = {"throughput_per_s": {"assigned": 1.0, "notified": None}}
    summary = headline(hub, figures)
    # No notification measured on the hub side: the headline compares to the assignment (A->C).
    assert summary["end_to_end"] == "assigned"
    assert summary["raw_per_s"] == pytest.approx(4 / 1.05)
    assert summary["ratio"] == summary["ratio_assigned"] == pytest.approx(1.0 / (4 / 1.05))
    assert summary["ratio_notified"] is None


def _notification(*referral_ids: str) -> bytes:
    """A Subscriptions Backport history Bundle as the notifier POSTs it (id-only)."""
    events = [
        {
            "name": "notification-event",
            "part": [
                {"name": "event-number", "valueString": str(n + 1)},
                {"name": "focus", "valueReference": {"reference": f"Task/{rid}"}},
            ],
        }
        for n, rid in enumerate(referral_ids)
    ]
    status = {"resourceType": "Parameters", "parameter": [{"name": "type"}, *events]}
    return dumps({"resourceType": "Bundle", "type": "history", "entry": [{"resource": status}]})


def test_the_webhook_reads_which_referrals_a_notification_is_about() -> None:
    assert notified_referrals(_notification("rid-1")) == ["rid-1"]
    assert notified_referrals(_notification("a", "b")) == ["a", "b"]
    assert notified_referrals(_notification()) == []  # a handshake names no Task
    assert notified_referrals(b"not json") == []
    assert notified_referrals(b'{"entry": []}') == []


async def test_the_webhook_answers_keep_alive_posts_and_times_each_referral() -> None:
    heard: list[tuple[str, int]] = []
    receiver = await WebhookReceiver(lambda rid, at: heard.append((rid, at)), lambda: 42).start()
    try:
        async with httpx.AsyncClient() as client:
            for body in (_notification(), _notification("rid-1"), _notification("rid-2")):
                answer = await client.post(receiver.url, content=body)
                assert answer.status_code == 200
    finally:
        await receiver.stop()
    assert heard == [("rid-1", 42), ("rid-2", 42)]
    assert (receiver.requests, receiver.handshakes) == (3, 1)


def test_hub_figures_time_the_referrer_notification_from_the_webhook() -> None:
    messages = [Inbound("community", "k1", b"{}", ("r1",)), Inbound("fire", "k2", b"{}", ("r2",))]
    observer = HubObserver("req", "tasks", "rejected", ["status"])
    for message, at in zip(messages, (1_000, 1_100), strict=True):
        observer.mark_published(message, at)
    observer.requested |= {"r1": 1_010, "r2": 1_120}
    observer.referral_of |= {"r1": "id-1", "r2": "id-2"}
    observer.tasks |= {"id-1": 1_030, "id-2": 1_150}
    observer.task_state |= {"id-1": "offered", "id-2": "offered"}
    observer.mark_notified("id-1", 1_080)
    observer.mark_notified("id-1", 5_000)  # a later version's notification: not the first
    observer.mark_notified("id-2", 1_300)
    assert observer.notified(["r1", "r2"]) == 2

    figures = hub_figures(Phase("fixed_rate", messages, 200.0), observer)
    assert figures["latency_ms"]["hop3"]["p50"] == pytest.approx((50 + 150) / 2)  # notified - task
    assert figures["latency_ms"]["notified"]["max"] == 200  # 1300 - 1100
    assert figures["throughput_per_s"]["notified"] == pytest.approx(2 / 0.3)  # 1000 .. 1300 ms
    assert figures["notifications_measured"] is True
    assert figures["not_offered"] == 0

    hub = {"fixed_rate": figures, "saturation": figures}
    durable = {**figures, "throughput_per_s": {**figures["throughput_per_s"], "notified": 20.0}}
    summary = headline(figures, figures, durable)
    assert summary["end_to_end"] == "notified"
    assert summary["ratio_to_durable"] == pytest.approx((2 / 0.3) / 20.0)
    met = goals(hub, summary)
    assert met["p99_notified_ms_at_fixed_rate"]["value"] == pytest.approx(199.0, abs=1.0)
    assert met["p99_notified_ms_at_fixed_rate"]["met"] is True  # under 200 ms
    assert met["p99_assigned_ms_at_fixed_rate"]["met"] is True  # under 100 ms
    assert met["ratio_to_durable"]["met"] is False  # a third of the ceiling, 60 % wanted
    assert met["statements_per_referral"]["met"] is None  # no database counted
    assert met["rss_peak_mb_per_service"]["value"] is None  # no processes sampled


def _run_with_speed(start: float, end: float) -> dict[str, Any]:
    return {"machine": {"cpu_speed_ms": {"start": start, "end": end}}}


def test_runs_on_a_machine_of_another_speed_are_flagged_and_close_ones_are_not() -> None:
    last = _run_with_speed(50.0, 52.0)
    assert speed_drift(last, _run_with_speed(54.0, 53.0)) is None  # 6 %: comparable
    assert speed_drift(last, _run_with_speed(66.0, 65.0)) == pytest.approx(0.30)
    assert speed_drift(last, _run_with_speed(40.0, 41.0)) == pytest.approx(-0.20)
    assert speed_drift({"machine": {}}, last) is None  # an older run, without it


def test_a_run_whose_machine_slowed_down_midway_is_flagged() -> None:
    assert speed_changed_during(_run_with_speed(53.2, 86.4))
    assert not speed_changed_during(_run_with_speed(53.2, 55.0))
    assert not speed_changed_during({"machine": {}})


def test_the_calibration_is_a_positive_time_for_a_fixed_workload() -> None:
    assert cpu_speed_ms(rounds=1, repeats=100) > 0


def test_database_work_is_reported_per_referral() -> None:
    messages = [
        Inbound("community", "k1", b"{}", ("r1", "r2")),
        Inbound("housing", "k2", b"x", ("r3", "r4")),
    ]
    phase = Phase("saturation", messages, None)
    phase.database = DatabaseWork(statements=10, transactions=3)
    db = relay_figures(phase, RelayObserver(["b", "c", "d"]))["database"]
    assert db["statements_per_referral"] == pytest.approx(2.5)
    assert db["transactions_per_referral"] == pytest.approx(0.75)
    unmeasured = Phase("saturation", messages, None)
    unmeasured.database = DatabaseWork(statements=None, transactions=None)
    assert (
        relay_figures(unmeasured, RelayObserver(["b", "c", "d"]))["database"][
            "statements_per_referral"
        ]
        is None
    )


def test_database_work_is_broken_down_by_service() -> None:
    assert service_of("INSERT INTO router.tasks (referral_id) VALUES ($1)") == "router"
    assert service_of("with gone as (delete from intake.outbox) select 1") == "intake"
    assert service_of("select $1") == "other"
    phase = Phase("saturation", [Inbound("community", "k1", b"{}", ("r1", "r2"))], None)
    phase.database = DatabaseWork(
        4, 1, {"router": 3, "other": 1}, [("INSERT INTO router.tasks", 3)]
    )
    db = relay_figures(phase, RelayObserver(["b", "c", "d"]))["database"]
    assert db["statements_per_referral_by_service"] == {"other": 0.5, "router": 1.5}
    assert db["top_statements_per_referral"] == [["INSERT INTO router.tasks", 1.5]]


def usage(cpu_seconds: float) -> Usage:
    return Usage(cpu_seconds, 0.0, 100.0, 100.0, None)


def test_idle_and_trickle_cost_count_the_services_not_the_harness() -> None:
    idle = idle_figures(
        20.0,
        {"intake": usage(0.04), "notifier": usage(0.06), "harness": usage(5.0)},
        {},
        DatabaseWork(30, 10, {"notifier": 20, "other": 10}),
    )
    assert idle["services_cpu_percent"] == pytest.approx(0.5)  # 0.1 s of 20 s
    assert idle["statements_per_s"] == pytest.approx(1.5)
    assert idle["statements_by_service"] == {"notifier": 20, "other": 10}

    def phase(referrals: int, cpu: float, p99: float, rate: float | None = None) -> dict[str, Any]:
        latency = {"p50": p99 / 2, "p99": p99, "count": referrals}
        return {
            "referrals": referrals,
            "offered_rate": rate,
            "complete": True,
            "processes": {"router": asdict(usage(cpu)), "harness": asdict(usage(99.0))},
            "latency_ms": {"notified": latency, "assigned": latency},
        }

    saturation = phase(1000, 2.0, 900.0)  # 2 ms a referral
    trickle = {
        "trickle_5": phase(150, 0.45, 80.0, 5.0),
        "trickle_25": phase(750, 3.3, 120.0, 25.0),
    }
    figures = trickle_figures(trickle, saturation)
    assert figures["trickle_5"]["cpu_ms_per_referral"] == pytest.approx(3.0)
    assert figures["trickle_25"]["ratio_to_saturation"] == pytest.approx(2.2)
    hub = {"fixed_rate": saturation, "saturation": saturation, "idle": idle, **trickle}
    met = goals(hub, {"hub_per_s": None, "ratio": None})
    assert met["idle_cpu_percent_of_a_core"]["met"] is True  # under 1 %
    assert met["cpu_per_referral_at_25_per_s_vs_saturation"]["met"] is False  # 2.2 x
    assert met["p99_notified_ms_at_5_per_s"]["met"] is True  # 80 ms
    lines = "\n".join(quiet_lines({"idle": idle, "trickle": figures}))
    assert "0.50 % of one core" in lines and "harness" not in lines
    assert "1.5 statements/s" in lines
    # A run without these scenarios reports them as not measured.
    unmeasured = goals(
        {"fixed_rate": saturation, "saturation": saturation}, {"hub_per_s": None, "ratio": None}
    )
    assert unmeasured["idle_cpu_percent_of_a_core"]["met"] is None
    assert unmeasured["p99_notified_ms_at_5_per_s"]["met"] is None


def test_history_levels_are_rising_counts_and_the_curve_reads_the_growth_phases() -> None:
    assert levels("0,100_000,1000000") == [0, 100_000, 1_000_000]
    for bad in ("100000,0", "0,0", "-1", "a,b", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            levels(bad)
    assert parse_args(["--history", "0,5000"]).history == [0, 5000]
    assert parse_args([]).history == []

    def phase(assigned: float, notified: float) -> dict[str, Any]:
        return {"complete": True, "throughput_per_s": {"assigned": assigned, "notified": notified}}

    seeder = HistorySeeder("postgresql+asyncpg://unused")
    seeder.seconds = {"history_5000": 2.5}
    figures = {
        "saturation": phase(9.0, 9.0),
        "history_0": phase(500.0, 400.0),
        "history_5000": phase(480.0, 300.0),
    }
    curve = growth(figures, seeder)
    assert [(p["referrals_recorded"], p["seed_seconds"]) for p in curve] == [(0, 0.0), (5000, 2.5)]
    table = "\n".join(growth_lines(curve))
    assert "75.0 %" in table  # 300 of the first level's 400 notified/s
    assert "5,000" in table and "480.0" in table
