"""Turning a run's observations into figures: JSON, a PNG chart and a summary to read.

The JSON carries the machine and the versions with the figures, so a run compares with the
last only when both were made on like terms.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

from benchmarks.measure import DatabaseWork, HubObserver, RelayObserver, Usage
from benchmarks.phases import Phase
from benchmarks.stats import (
    hop_latencies,
    hop_throughput,
    latency_summary,
    ratio,
    throughput,
)
from tests.support.infra import REPO

# The hub's hops and the raw relay's that stand for them.
HOPS = {
    "hop1": ("inbound → requested", "A → B"),
    "hop2": ("requested → task", "B → C"),
    "hop3": ("task → referrer notified", "C → D"),
    "assigned": ("inbound → task (end to end, assigned)", "A → C"),
    "notified": ("inbound → notified (end to end, referrer notified)", "A → D"),
}
PACKAGES = ("aiokafka", "faststream", "fastapi", "uvicorn", "sqlalchemy", "asyncpg", "orjson")


def _figures(phase: Phase, timelines: list[Mapping[str, float]]) -> dict[str, Any]:
    """Throughput and latency per hop from four timelines: published, then each hop's output."""
    refs = phase.references
    published, first, second, third = timelines
    pairs = {
        "hop1": (published, first),
        "hop2": (first, second),
        "hop3": (second, third),
        "assigned": (published, second),
        "notified": (published, third),
    }
    sent = [published[r] for r in refs if r in published]
    return {
        "referrals": len(refs),
        "messages": len(phase.messages),
        "offered_rate": phase.rate,
        "achieved_publish_rate": throughput(
            len(sent), min(sent, default=None), max(sent, default=None)
        ),
        "complete": phase.complete,
        "seconds": phase.seconds,
        "throughput_per_s": {name: hop_throughput(a, b, refs) for name, (a, b) in pairs.items()},
        "latency_ms": {
            name: latency_summary(hop_latencies(a, b, refs)) for name, (a, b) in pairs.items()
        },
        "processes": {name: asdict(usage) for name, usage in phase.usage.items()},
        "machine": phase.machine,
        "database": _database(phase),
    }


def _database(phase: Phase) -> dict[str, Any]:
    """Statements and transactions per referral (None: not measured)."""
    work, referrals = phase.database, len(phase.references)
    statements = work.statements if work else None
    transactions = work.transactions if work else None
    return {
        "statements": statements,
        "transactions": transactions,
        "statements_per_referral": ratio(statements, referrals) if statements is not None else None,
        "transactions_per_referral": (
            ratio(transactions, referrals) if transactions is not None else None
        ),
        "statements_per_referral_by_service": {
            service: ratio(count, referrals) for service, count in sorted(work.by_service.items())
        }
        if work
        else {},
        "top_statements_per_referral": [
            [query, ratio(calls, referrals)] for query, calls in work.top
        ]
        if work
        else [],
    }


def hub_figures(phase: Phase, observer: HubObserver) -> dict[str, Any]:
    figures = _figures(
        phase,
        [observer.published, observer.requested, observer.task_at(), observer.status_at()],
    )
    refs = phase.references
    figures["rejected"] = sum(1 for r in refs if r in observer.rejected)
    figures["not_offered"] = observer.unassigned(refs)  # capacity or coverage bound: a bug here
    figures["notifications_measured"] = figures["latency_ms"]["notified"]["count"] > 0
    return figures


HARNESS = "harness"
"""The benchmark's own process, sampled beside the services but never counted as the hub."""


def trickle_phase(rate: float) -> str:
    """The name of the trickle phase at `rate` referrals/s offered."""
    return f"trickle_{rate:g}"


def services_cpu_seconds(processes: Mapping[str, Mapping[str, Any]]) -> float:
    return float(sum(usage["cpu_seconds"] for name, usage in processes.items() if name != HARNESS))


def cpu_ms_per_referral(figures: Mapping[str, Any] | None) -> float | None:
    """The services' CPU (all of them, milliseconds of one core) per referral of a phase."""
    if not figures or not figures.get("processes") or not figures.get("referrals"):
        return None
    return round(1000 * services_cpu_seconds(figures["processes"]) / int(figures["referrals"]), 2)


def idle_figures(
    seconds: float,
    usage: Mapping[str, Usage],
    machine: dict[str, float],
    database: DatabaseWork | None = None,
) -> dict[str, Any]:
    """The services with no load: each one's CPU, and all of them together as a percentage of
    one core (from CPU seconds, finer than each process's rounded percentage); the statements
    PostgreSQL ran meanwhile, per second and by service (None: not counted)."""
    processes = {name: asdict(u) for name, u in usage.items()}
    statements = database.statements if database else None
    return {
        "statements_per_s": round(statements / seconds, 2)
        if statements is not None and seconds > 0
        else None,
        "statements_by_service": dict(database.by_service) if database else {},
        "seconds": seconds,
        "services_cpu_percent": round(100 * services_cpu_seconds(processes) / seconds, 2)
        if seconds > 0
        else None,
        "processes": processes,
        "machine": machine,
    }


def trickle_figures(
    trickle: Mapping[str, Mapping[str, Any]], saturation: Mapping[str, Any]
) -> dict[str, Any]:
    """Each trickle phase's CPU per referral against its cost at saturation, and latency."""
    at_saturation = cpu_ms_per_referral(saturation)
    out = {}
    for name, figures in trickle.items():
        cost = cpu_ms_per_referral(figures)
        latency = figures["latency_ms"]
        out[name] = {
            "offered_rate": figures["offered_rate"],
            "referrals": figures["referrals"],
            "complete": figures["complete"],
            "cpu_ms_per_referral": cost,
            "cpu_ms_per_referral_at_saturation": at_saturation,
            "ratio_to_saturation": ratio(cost, at_saturation),
            "p50_notified_ms": latency["notified"]["p50"],
            "p99_notified_ms": latency["notified"]["p99"],
            "p99_assigned_ms": latency["assigned"]["p99"],
        }
    return out


def referrer_facts(subscriptions: int, requests: int, handshakes: int) -> dict[str, Any]:
    """How the notification hop was observed: the agencies' rest-hook subscriptions and what
    the harness's webhook received (handshakes included)."""
    return {
        "channel": "rest-hook",
        "subscriptions": subscriptions,
        "webhook_requests": requests,
        "handshakes": handshakes,
        "notifications": requests - handshakes,
    }


def relay_figures(phase: Phase, observer: RelayObserver) -> dict[str, Any]:
    hops = [observer.arrived[topic] for topic in observer.hop_topics]
    return _figures(phase, [observer.published, *hops])


def headline(
    hub: dict[str, Any], raw: dict[str, Any], durable: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Hub over each ceiling at saturation, end to end: to the referrer's notification when
    the hub publishes one, else to the assignment (the relays' A->D or A->C to match)."""
    hub_tp, raw_tp = hub["throughput_per_s"], raw["throughput_per_s"]
    durable_tp = durable["throughput_per_s"] if durable else {}
    to = "notified" if hub_tp["notified"] is not None else "assigned"
    return {
        "end_to_end": to,
        "hub_per_s": hub_tp[to],
        "raw_per_s": raw_tp[to],
        "ratio": ratio(hub_tp[to], raw_tp[to]),
        "ratio_assigned": ratio(hub_tp["assigned"], raw_tp["assigned"]),
        "ratio_notified": ratio(hub_tp["notified"], raw_tp["notified"]),
        "durable_per_s": durable_tp.get(to),
        "ratio_to_durable": ratio(hub_tp[to], durable_tp.get(to)),
        "ratio_to_durable_assigned": ratio(hub_tp["assigned"], durable_tp.get("assigned")),
    }


# The project's targets (reported, never asserted: a shared machine can miss them by itself).
# Issue 18's: against the durable ceiling, which does what any hub with these guarantees must.
GOALS = {
    "end_to_end_per_s": 1500.0,
    "ratio_to_durable": 0.60,
    "ratio_to_raw": 0.25,
    "p99_assigned_ms_at_fixed_rate": 100.0,
    "p99_notified_ms_at_fixed_rate": 200.0,
    "statements_per_referral": 3.0,
    "rss_peak_mb_per_service": 150.0,
    # Quiet at a trickle (part 3): waiting for work costs next to nothing.
    "idle_cpu_percent_of_a_core": 1.0,
    "cpu_per_referral_at_25_per_s_vs_saturation": 2.0,
    "p99_notified_ms_at_5_per_s": 100.0,
}


def goals(hub: dict[str, Any], head: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each goal with the run's figure and whether it was met (None: not measured)."""
    fixed = hub["fixed_rate"]["latency_ms"]
    saturation = hub["saturation"]
    rss = [
        usage["rss_peak_mb"]
        for phase in ("fixed_rate", "saturation")
        for name, usage in hub[phase]["processes"].items()
        if name != "harness"
    ]
    figures: dict[str, tuple[float | None, bool]] = {
        # (figure, True when higher is better)
        "end_to_end_per_s": (head["hub_per_s"], True),
        "ratio_to_durable": (head.get("ratio_to_durable"), True),
        "ratio_to_raw": (head["ratio"], True),
        "p99_assigned_ms_at_fixed_rate": (fixed["assigned"]["p99"], False),
        "p99_notified_ms_at_fixed_rate": (fixed["notified"]["p99"], False),
        "statements_per_referral": (
            hub["saturation"].get("database", {}).get("statements_per_referral"),
            False,
        ),
        "rss_peak_mb_per_service": (max(rss) if rss else None, False),
        "idle_cpu_percent_of_a_core": ((hub.get("idle") or {}).get("services_cpu_percent"), False),
        "cpu_per_referral_at_25_per_s_vs_saturation": (
            ratio(cpu_ms_per_referral(hub.get(trickle_phase(25))), cpu_ms_per_referral(saturation)),
            False,
        ),
        "p99_notified_ms_at_5_per_s": (
            (hub.get(trickle_phase(5)) or {}).get("latency_ms", {}).get("notified", {}).get("p99"),
            False,
        ),
    }
    out = {}
    for name, (value, higher) in figures.items():
        target = GOALS[name]
        met = None if value is None else (value >= target if higher else value < target)
        out[name] = {"target": target, "value": value, "met": met}
    return out


# ---------------------------------------------------------------- machine facts


def git_commit() -> str | None:
    """HEAD's commit, read from .git directly (no git process needed on a bare machine)."""
    git = REPO / ".git"
    try:
        if git.is_file():  # a worktree: `gitdir: <path>`
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(" ", 1)[1]
        for base in (git, Path(str(git).split("/worktrees/")[0])):
            if (base / ref).is_file():
                return (base / ref).read_text().strip()
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0]
    except (OSError, IndexError):
        pass
    return None


def kafka_version(origin: str) -> str:
    """The broker's version: the jar of the local bring-up, else what the origin says."""
    if origin == "local bring-up":
        jars = sorted((REPO / ".local" / "kafka" / "lib").glob("kafka-server-[0-9]*.jar"))
        if jars:
            return jars[-1].stem.removeprefix("kafka-server-")
    if origin == "testcontainers":
        return "apache/kafka image of tests/support/infra.py"
    return "unknown (Kafka from the environment)"


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_facts(origin: str, postgres: str) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "kafka": kafka_version(origin),
        "postgresql": postgres,
        "infrastructure": origin,
        "packages": {name: _version(name) for name in PACKAGES},
        "git_commit": git_commit(),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------- output


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def previous_result(directory: Path, current: Path) -> dict[str, Any] | None:
    """The last run's JSON before this one, to print the change."""
    earlier = sorted(p for p in directory.glob("bench-*.json") if p.name < current.name)
    try:
        return json.loads(earlier[-1].read_text()) if earlier else None
    except (OSError, ValueError):
        return None


def _bars(
    ax: Any, where: list[float], values: list[float | None], width: float, **style: Any
) -> None:
    """Bars, with "not measured" written where a value is missing (never drawn as zero)."""
    ax.bar(where, [v or 0 for v in values], width, **style)
    for at, value in zip(where, values, strict=True):
        if value is None:
            ax.annotate(
                "not measured",
                (at, 0.03),
                xycoords=("data", "axes fraction"),
                rotation=90,
                ha="center",
                fontsize=7,
            )


def _axes(ax: Any, labels: list[str], ylabel: str, title: str) -> None:
    ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 30)  # headroom above the bars for the legend
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper center", fontsize=7, ncol=2)


def write_chart(result: dict[str, Any], path: Path) -> None:
    """Throughput per hop at saturation, and latency percentiles per hop at both rates."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    hub, raw = result["hub"], result["raw_relay"]
    names = list(HOPS)
    labels = [HOPS[n][0].split(" (")[0] for n in names]
    x = range(len(names))
    curve = result.get("growth")
    fig, axes = plt.subplots(1, 4 if curve else 3, figsize=(24 if curve else 18, 5.5))

    bars = [("hub", hub["saturation"], "tab:blue")]
    if "durable_relay" in result:
        bars.append(("durable relay", result["durable_relay"]["saturation"], "tab:green"))
    bars.append(("raw relay", raw["saturation"], "tab:gray"))
    width = 0.8 / len(bars)
    for offset, (who, figures, colour) in enumerate(bars):
        values = [figures["throughput_per_s"][n] for n in names]
        where = [i + (offset - (len(bars) - 1) / 2) * width for i in x]
        _bars(axes[0], where, values, width, label=who, color=colour)
    _axes(axes[0], labels, "referrals per second (log)", "Throughput at saturation")

    rate = hub["fixed_rate"]["offered_rate"]
    for ax, phase, title in (
        (axes[1], "fixed_rate", f"Latency at {rate:g}/s offered"),
        (axes[2], "saturation", "Latency at saturation"),
    ):
        width = 0.13
        for k, (who, figures, shades) in enumerate(
            (
                ("hub", hub[phase], ("#9ecae1", "#4292c6", "#08519c")),
                ("raw", raw[phase], ("#d9d9d9", "#969696", "#525252")),
            )
        ):
            for j, q in enumerate(("p50", "p95", "p99")):
                values = [figures["latency_ms"][n][q] for n in names]
                where = [i + (k * 3 + j - 2.5) * width for i in x]
                _bars(ax, where, values, width, label=f"{who} {q}", color=shades[j])
        _axes(ax, labels, "milliseconds (log)", title)

    if curve:
        _growth_panel(axes[3], curve)

    machine = result["machine"]
    fig.suptitle(
        f"Referral hub benchmark {result['run']['started_at']} · {machine['cores_logical']} cores · "
        f"Kafka {machine['kafka']} · PostgreSQL {machine['postgresql']} · "
        f"commit {(machine['git_commit'] or '?')[:10]}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _digits(value: float | None) -> int:
    """Decimals enough to tell a figure from its target (1.7 from 2, 0.6 % from 1 %)."""
    return (
        2
        if value is not None and abs(value) < 1
        else 1
        if value is not None and abs(value) < 10
        else 0
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


SPEED_TOLERANCE = 0.10
"""Runs whose calibrations differ by more than this are not comparable rate for rate."""


def speed_drift(previous: dict[str, Any], current: dict[str, Any]) -> float | None:
    """How much slower (positive) or faster this run's machine was than the last run's, when
    the difference is beyond SPEED_TOLERANCE; None when close, or when either run lacks it."""
    speeds = [run.get("machine", {}).get("cpu_speed_ms") for run in (previous, current)]
    if not all(speeds):
        return None
    before, now = (min(speed["start"], speed["end"]) for speed in speeds)
    drift = now / before - 1
    return drift if abs(drift) > SPEED_TOLERANCE else None


def speed_changed_during(result: dict[str, Any]) -> bool:
    """Whether the machine's speed moved beyond SPEED_TOLERANCE between the run's start and
    its end: the hub runs first and the raw relay last, so their ratio moves with it."""
    speed = result.get("machine", {}).get("cpu_speed_ms")
    return bool(speed) and abs(speed["end"] / speed["start"] - 1) > SPEED_TOLERANCE


def quiet_lines(result: Mapping[str, Any]) -> list[str]:
    """The idle and trickle scenarios (issue 18 part 3), when the run measured them."""
    idle, trickle = result.get("idle"), result.get("trickle") or {}
    if not idle and not trickle:
        return []
    lines = ["", "Quiet at a trickle"]
    if idle:
        each = ", ".join(
            f"{name} {100 * usage['cpu_seconds'] / idle['seconds']:.2f}"
            for name, usage in idle["processes"].items()
            if name != HARNESS
        )
        lines.append(
            f"  no load for {idle['seconds']:g} s: the services used "
            f"{_n(idle['services_cpu_percent'], 2)} % of one core ({each}); PostgreSQL ran "
            f"{_n(idle.get('statements_per_s'), 1)} statements/s"
        )
    for figures in trickle.values():
        lines.append(
            f"  at {figures['offered_rate']:g}/s: {_n(figures['cpu_ms_per_referral'], 1)} ms CPU "
            f"per referral ({_n(figures['ratio_to_saturation'], 1)} x the "
            f"{_n(figures['cpu_ms_per_referral_at_saturation'], 1)} ms at saturation); "
            f"notified p50 / p99 {_n(figures['p50_notified_ms'])} / "
            f"{_n(figures['p99_notified_ms'])} ms"
            + ("" if figures["complete"] else " · INCOMPLETE")
        )
    return lines


GROWTH_HOPS = ("assigned", "notified")


def _growth_panel(ax: Any, curve: list[dict[str, Any]]) -> None:
    """Throughput at saturation against the referrals already recorded (issue 18): flat when
    no hot path grows with history."""
    recorded = [point["referrals_recorded"] for point in curve]
    for name, colour in zip(GROWTH_HOPS, ("tab:blue", "tab:orange"), strict=True):
        values = [point["throughput_per_s"][name] for point in curve]
        ax.plot(recorded, values, marker="o", color=colour, label=HOPS[name][0].split(" (")[0])
    ax.set_xscale("symlog", linthresh=max(1, min((r for r in recorded if r), default=1)))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("historical referrals recorded")
    ax.set_ylabel("referrals per second")
    ax.set_title("Throughput at saturation against history")
    ax.legend(loc="lower left", fontsize=7)


def growth_lines(curve: list[dict[str, Any]]) -> list[str]:
    """The growth curve as a table, each level's throughput also as a share of the first's."""
    lines = [
        "",
        "Throughput at saturation against history (referrals/s)",
        "  referrals recorded    assigned   notified   notified vs first   seeding s",
    ]
    first = curve[0]["throughput_per_s"]["notified"] if curve else None
    for point in curve:
        tp = point["throughput_per_s"]
        share = tp["notified"] / first if first and tp["notified"] else None
        lines.append(
            f"  {point['referrals_recorded']:>18,} {_n(tp['assigned'], 1):>11}"
            f" {_n(tp['notified'], 1):>10} {_pct(share):>19} {point['seed_seconds']:>11,.1f}"
            + ("" if point["complete"] else "  (incomplete)")
        )
    return lines


def summary(result: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    """The run in a screenful."""
    hub, raw, head = result["hub"], result["raw_relay"], result["headline"]
    durable = result.get("durable_relay")
    machine, args = result["machine"], result["run"]["args"]
    lines = [
        "",
        f"Referral hub benchmark · {machine['cores_logical']} cores, {machine['memory_gb']} GB · "
        f"Kafka {machine['kafka']} · PostgreSQL {machine['postgresql']} · "
        f"commit {(machine['git_commit'] or '?')[:10]}",
        f"{args['referrals']} referrals per phase · {args['partitions']} partitions · "
        f"{args['replicas']} router replica(s) · fixed rate {args['rate']:g}/s",
        "",
        "Throughput at saturation (referrals/s)        hub    durable   hub/dur."
        "        raw   hub/raw",
    ]
    for name in HOPS:
        hub_tp = hub["saturation"]["throughput_per_s"][name]
        raw_tp = raw["saturation"]["throughput_per_s"][name]
        dur_tp = durable["saturation"]["throughput_per_s"][name] if durable else None
        lines.append(
            f"  {HOPS[name][0]:<42} {_n(hub_tp, 1):>8} {_n(dur_tp, 0):>10}"
            f" {_pct(ratio(hub_tp, dur_tp)):>9} {_n(raw_tp, 0):>10} {_pct(ratio(hub_tp, raw_tp)):>9}"
        )
    lines += ["", "Database work per referral          statements   transactions"]
    for who, figures in (("hub", hub), ("durable relay", durable or {})):
        for phase in ("fixed_rate", "saturation"):
            db = figures.get(phase, {}).get("database") or {}
            lines.append(
                f"  {who + ', ' + phase.replace('_', ' '):<34} "
                f"{_n(db.get('statements_per_referral'), 2):>10} "
                f"{_n(db.get('transactions_per_referral'), 2):>14}"
            )
            by_service = db.get("statements_per_referral_by_service") or {}
            if by_service:
                lines.append(
                    "      by service: "
                    + ", ".join(f"{name} {_n(value, 2)}" for name, value in by_service.items())
                )
    for phase, title in (
        ("fixed_rate", f"at {args['rate']:g}/s offered"),
        ("saturation", "at saturation"),
    ):
        lines += ["", f"Latency {title} (ms)    hub p50 / p95 / p99 / max        raw p50 / p99"]
        for name in HOPS:
            h, r = hub[phase]["latency_ms"][name], raw[phase]["latency_ms"][name]
            hub_text = (
                f"{_n(h['p50'])} / {_n(h['p95'])} / {_n(h['p99'])} / {_n(h['max'])}"
                if h["count"]
                else "not measured"
            )
            lines.append(
                f"  {HOPS[name][0].split(' (')[0]:<22} {hub_text:>30}   {_n(r['p50'], 1):>8} / {_n(r['p99'], 1)}"
            )
    lines += ["", "Processes (saturation)   CPU s   CPU % of a core   RSS peak MB   RSS end MB"]
    for name, usage in hub["saturation"]["processes"].items():
        lines.append(
            f"  {name:<22} {usage['cpu_seconds']:>6.1f} {usage['cpu_percent']:>12.0f} "
            f"{usage['rss_peak_mb']:>13.0f} {usage['rss_end_mb']:>12.0f}"
        )
    busy = hub["saturation"]["machine"]
    lines.append(
        f"  whole machine: {busy['cpu_busy_percent']:.0f} % of all cores busy, load average "
        f"{busy['load_average_1m_start']:g} -> {busy['load_average_1m_end']:g}"
        + (
            f", {busy['cpu_steal_percent']:g} % stolen by the host"
            if "cpu_steal_percent" in busy
            else ""
        )
    )
    lines += quiet_lines(result)
    speed = machine.get("cpu_speed_ms")
    if speed:
        lines.append(
            f"  machine speed: the calibration took {speed['start']:g} ms at the start and "
            f"{speed['end']:g} ms at the end (lower is faster; see benchmarks/README.md)"
        )
    lines.append("")
    referrers = result.get("referrers")
    if referrers:
        lines.append(
            f"Referrers: {referrers['subscriptions']} agencies subscribed (rest-hook); the "
            f"harness's webhook received {referrers['notifications']:,} notifications."
        )
    if not hub["saturation"]["notifications_measured"]:
        lines.append(
            "Notifications: not measured (no webhook POST or referrals.status.* message arrived "
            "within the grace period)."
        )
    if speed_changed_during(result):
        lines.append(
            f"WARNING: the machine's speed changed during the run (calibration {speed['start']:g}"
            f" -> {speed['end']:g} ms): the hub and the raw relay ran at different speeds, so"
            " their ratio is off too. Run again for figures to compare."
        )
    if busy.get("cpu_steal_percent", 0) > 5:
        lines.append(
            f"WARNING: the host took {busy['cpu_steal_percent']:g} % of this machine's CPU time "
            "for other work during the saturation phase: the figures are lower for it."
        )
    quiet = machine.get("busy_before_run_percent")
    if quiet is not None and quiet > 15:
        lines.append(
            f"WARNING: the machine was {quiet:.0f} % busy before the run started: other work "
            "shares it, so these figures are lower than a quiet machine would give."
        )
    fixed = hub["fixed_rate"]
    kept_up = fixed["throughput_per_s"]["assigned"]
    if kept_up is not None and kept_up < 0.9 * args["rate"]:
        lines.append(
            f"The hub did not keep up with {args['rate']:g}/s offered (it assigned "
            f"{kept_up:.1f}/s): latencies at that rate are mostly time spent queueing."
        )
    for phase in ("fixed_rate", "saturation"):
        f = hub[phase]
        if not f["complete"] or f["rejected"] or f["not_offered"]:
            lines.append(
                f"WARNING {phase}: complete={f['complete']}, rejected={f['rejected']}, "
                f"Tasks not offered={f['not_offered']} (the figures cover what arrived)."
            )
    if "goals" in result:
        lines.append(
            "Goals: "
            + " · ".join(
                f"{name} {_n(goal['value'], _digits(goal['value']))}"
                f" ({'met' if goal['met'] else 'not measured' if goal['met'] is None else 'missed'}"
                f", target {goal['target']:g})"
                for name, goal in result["goals"].items()
            )
        )
    lines.append(
        f"Headline: hub {_n(head['hub_per_s'], 1)} referrals/s end to end ({head['end_to_end']}) "
        f"vs durable relay {_n(head.get('durable_per_s'), 0)}/s: hub/durable "
        f"{_pct(head.get('ratio_to_durable'))}; vs raw relay {_n(head['raw_per_s'], 0)}/s: "
        f"hub/raw {_pct(head['ratio'])}."
    )
    if result.get("growth"):
        lines.extend(growth_lines(result["growth"]))
    if previous:
        before = previous.get("headline", {})
        # Its end to end may be another hop (runs before notifications were measured ended at
        # the assignment): the ratios per end point are what compare.
        lines.append(
            f"Last run ({previous.get('run', {}).get('started_at', '?')}): hub "
            f"{_n(before.get('hub_per_s'), 1)}/s ({before.get('end_to_end', '?')}), raw "
            f"{_n(before.get('raw_per_s'), 0)}/s; hub/raw assigned "
            f"{_pct(before.get('ratio_assigned'))} (now {_pct(head['ratio_assigned'])}), "
            f"notified {_pct(before.get('ratio_notified'))} (now {_pct(head['ratio_notified'])})."
        )
        if drift := speed_drift(previous, result):
            lines.append(
                f"WARNING: the calibration ran {abs(drift):.0%} {'slower' if drift > 0 else 'faster'}"
                " than in the last run: the machine, not only the code, differs between the two,"
                " so compare the ratios to the raw relay rather than the rates."
            )
    return "\n".join(lines)
