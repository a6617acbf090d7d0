"""Batch rebalancing: assign a backlog of referrals optimally, under the same hard constraints.

One-at-a-time routing is greedy: each referral takes the best worker left, which can use up a
scarce worker (the only Tamil speaker covering CR0, say) on a referral somebody else could have
taken. For a backlog known all at once, the best set of offers is a minimum-cost flow:

    source -> referral          capacity 1
    referral -> worker          for each worker passing every hard constraint; cost -match score
    worker -> slot k -> sink    capacity 1 each; cost -load score with k more referrals held

The slots make the load part of the score exact: the k-th referral a worker takes scores
`load_score(active + k)` whichever referral it is, so a flow's cost is exactly minus the total
score greedy would reach with the same assignments, and the two compare like for like.
`max_flow_min_cost` assigns as many referrals as possible first, then maximises the total
score: leaving a person waiting is worse than a weaker match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import networkx as nx

from hub_router.domain.model import LinkWorker, Load, ReferralToRoute
from hub_router.domain.policy import choose_worker, exclusion_reason, load_score, match_score

SCALE = 1000  # network simplex is exact on integers: scores to a thousandth


@dataclass(frozen=True)
class BatchAssignment:
    """Which worker each referral of a backlog goes to; the rest wait for a coordinator."""

    assignments: Mapping[str, str] = field(default_factory=dict)  # referral id -> worker id
    total_score: float = 0.0

    @property
    def assigned(self) -> int:
        return len(self.assignments)


def room_today(worker: LinkWorker, load: Load, today: date) -> int:
    """How many more new referrals `worker` may take today under both limits."""
    if not worker.available_on(today):
        return 0
    return max(0, min(worker.max_caseload - load.active, worker.max_new_per_day - load.new_today))


def total_score(
    assignments: Mapping[str, str],
    referrals: Sequence[ReferralToRoute],
    workers: Sequence[LinkWorker],
    loads: Mapping[str, Load],
    continuity: Mapping[str, str] | None = None,
) -> float:
    """The score of a set of assignments, counted the way one-at-a-time routing counts it."""
    continuity = continuity or {}
    by_referral = {r.referral_id: r for r in referrals}
    by_worker = {w.worker_id: w for w in workers}
    total = sum(
        match_score(by_worker[w], by_referral[r], continuity.get(r)) for r, w in assignments.items()
    )
    for worker_id, taken in Counter(assignments.values()).items():
        worker, active = by_worker[worker_id], loads.get(worker_id, Load()).active
        total += sum(load_score(worker, active + k) for k in range(taken))
    return round(total, 3)


def assign_greedily(
    referrals: Sequence[ReferralToRoute],
    workers: Sequence[LinkWorker],
    loads: Mapping[str, Load],
    today: date,
    continuity: Mapping[str, str] | None = None,
) -> BatchAssignment:
    """What one-at-a-time routing does with the backlog, in the order given."""
    continuity = continuity or {}
    current = dict(loads)
    assignments: dict[str, str] = {}
    for referral in referrals:
        decision = choose_worker(
            referral, workers, current, today, continuity.get(referral.referral_id)
        )
        if decision.worker_id:
            assignments[referral.referral_id] = decision.worker_id
            held = current.get(decision.worker_id, Load())
            current[decision.worker_id] = replace(
                held, active=held.active + 1, new_today=held.new_today + 1
            )
    return BatchAssignment(
        assignments, total_score(assignments, referrals, workers, loads, continuity)
    )


def assign_optimally(
    referrals: Sequence[ReferralToRoute],
    workers: Sequence[LinkWorker],
    loads: Mapping[str, Load],
    today: date,
    continuity: Mapping[str, str] | None = None,
) -> BatchAssignment:
    """The most referrals assigned, then the highest total score (minimum-cost flow)."""
    continuity = continuity or {}
    graph = nx.DiGraph()
    source, sink = ("source",), ("sink",)
    for worker in workers:
        load = loads.get(worker.worker_id, Load())
        for k in range(room_today(worker, load, today)):
            slot = ("slot", worker.worker_id, k)
            cost = -round(load_score(worker, load.active + k) * SCALE)
            graph.add_edge(("worker", worker.worker_id), slot, capacity=1, weight=cost)
            graph.add_edge(slot, sink, capacity=1, weight=0)
    for referral in referrals:
        node = ("referral", referral.referral_id)
        for worker in workers:
            load = loads.get(worker.worker_id, Load())
            if not graph.has_node(("worker", worker.worker_id)):
                continue  # no room today
            if exclusion_reason(worker, referral, load, today) is None:
                cost = -round(
                    match_score(worker, referral, continuity.get(referral.referral_id)) * SCALE
                )
                graph.add_edge(node, ("worker", worker.worker_id), capacity=1, weight=cost)
        if graph.has_node(node):
            graph.add_edge(source, node, capacity=1, weight=0)
    if not graph.has_node(source) or not graph.has_node(sink):
        return BatchAssignment()
    flow = nx.max_flow_min_cost(graph, source, sink)
    assignments = {
        node[1]: target[1]
        for node, targets in flow.items()
        if node[0] == "referral"
        for target, amount in targets.items()
        if amount > 0
    }
    return BatchAssignment(
        assignments, total_score(assignments, referrals, workers, loads, continuity)
    )
