"""Per community service, the outcomes of the people connected to it (issue 14, item 7), for
coordinators and commissioners. Pure.

Read from the coordinator's own Tasks: the router records each onward referral a service took
on as support offered on the link worker's Task (`referred`, then `attended` once the person
went), with the directory service id, and closure records the wellbeing measures. So, per
directory service: the people connected (its support row on their Task), the share who
attended, and the mean wellbeing change of those with both measures (`wellbeing_change`).
A service with fewer than `MIN_PEOPLE` people shows no figures at all, and a wellbeing mean
needs as many people with both measures: no cell describes fewer than five people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from hub_common.fhir.task_outputs import SupportKind
from hub_web.domain.charts import BarChart, bar_chart
from hub_web.domain.tasks import TaskView
from hub_web.domain.wellbeing_change import MIN_PEOPLE, Change, change_of

CONNECTED = frozenset({SupportKind.REFERRED, SupportKind.ATTENDED})


@dataclass(frozen=True)
class ServiceOutcome:
    """One service; every figure None when the service is suppressed (or has no data)."""

    service: str
    people: int
    attended_share: float | None  # 0..1
    swemwbs: float | None
    satisfied: float | None
    anxious: float | None

    @property
    def suppressed(self) -> bool:
        return self.people < MIN_PEOPLE


@dataclass
class _Tally:
    name: str
    people: int = 0
    attended: int = 0
    changes: list[Change] | None = None


def _mean(changes: list[Change], pick: str) -> float | None:
    values = [v for c in changes if (v := getattr(c, pick)) is not None]
    return round(fmean(values), 1) if len(values) >= MIN_PEOPLE else None


def outcomes_by_service(tasks: Iterable[TaskView]) -> list[ServiceOutcome]:
    """One row per directory service, most people first; each person counts once a service."""
    tallies: dict[str, _Tally] = {}
    for task in tasks:
        change = change_of(task)
        kinds: dict[str, set[SupportKind]] = {}
        names: dict[str, str] = {}
        for row in task.outcomes.support:
            if row.service_id and row.kind in CONNECTED:
                kinds.setdefault(row.service_id, set()).add(row.kind)
                names[row.service_id] = row.service
        for service_id, found in kinds.items():
            tally = tallies.setdefault(service_id, _Tally(names[service_id], changes=[]))
            tally.people += 1
            tally.attended += SupportKind.ATTENDED in found
            if change is not None and tally.changes is not None:
                tally.changes.append(change)
    rows = []
    for tally in tallies.values():
        shown = tally.people >= MIN_PEOPLE
        changes = tally.changes or []
        rows.append(
            ServiceOutcome(
                tally.name,
                tally.people,
                tally.attended / tally.people if shown else None,
                _mean(changes, "swemwbs") if shown else None,
                _mean(changes, "satisfied") if shown else None,
                _mean(changes, "anxious") if shown else None,
            )
        )
    return sorted(rows, key=lambda row: (-row.people, row.service))


def attended_chart(rows: Iterable[ServiceOutcome]) -> BarChart:
    """The share of people connected who attended, per service not suppressed."""
    return bar_chart(
        "People who attended, of those connected, per service",
        "%",
        [
            (row.service, (round(row.attended_share * 100),), None)
            for row in rows
            if row.attended_share is not None
        ],
        ("Attended",),
        row_heading="Service",
    )
