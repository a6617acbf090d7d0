"""How long the hub keeps each kind of record, and the sweep that lets go of what has expired.

UK GDPR's storage limitation principle and the NHS Records Management Code of Practice (2023)
say a record is kept for a known time after a known moment, then destroyed or anonymised. One
setting, `HUB_RETENTION`, holds the whole schedule as `kind=duration` pairs over the defaults
below (the reasons for each default are in docs/data-protection.md). Each service runs one
`RetentionSweep` (hub_common) over its own `retention_store` adapter (the SQL): services share
nothing but events, so each lets go of its own copy.

Durations are a whole number and a unit, `d` (days), `w` (weeks) or `y` (calendar years), or
`never`. Years are calendar years, as the Code counts them ("8 years after"), not 365 days.

Subject access and erasure (issue 17) will reuse these kinds: an erasure is a sweep of one
person's records whatever their age, through the same per-service stores.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

log = logging.getLogger(__name__)


class RecordKind(StrEnum):
    """The kinds of record the schedule knows; every table and topic the hub keeps is one."""

    REFERRAL = "referral"
    """The case record: the referral as received, its Task and Task history, the care plan,
    casework outputs, alerts and notifications about it. Counted from closure (a Task's end
    state), except in intake, which never learns of closure and counts from receipt."""
    REJECTION = "rejection"
    """A refused agency message and its OperationOutcome. Counted from receipt."""
    ROUTING_DECISION = "routing-decision"
    """The router's explanation of each offer (who was excluded and why). From the decision."""
    DELIVERY = "delivery"
    """A finished webhook, Kafka message or e-mail delivery, and the daily digest records.
    From creation; a delivery still pending is never swept."""
    PROCESSED_EVENT = "processed-event"
    """An event id a consumer has applied (deduplication). From processing; must outlive
    `event`, or a redelivery from Kafka could be applied twice."""
    EVENT = "event"
    """A message on a non-compacted Kafka topic (`retention.ms`, set by `topics ensure`)."""


NEVER = None
"""A duration of `never`: the kind is kept until someone decides otherwise."""


@dataclass(frozen=True)
class Duration:
    """A retention period: `amount` of `unit` (`d`, `w` or `y`)."""

    amount: int
    unit: str

    def before(self, moment: datetime) -> datetime:
        """The moment this long before `moment` (calendar years: 29 February goes to the 28th)."""
        if self.unit == "y":
            year = moment.year - self.amount
            try:
                return moment.replace(year=year)
            except ValueError:  # 29 February in a year that has none
                return moment.replace(year=year, day=28)
        days = self.amount * (7 if self.unit == "w" else 1)
        return moment - timedelta(days=days)

    def at_most(self) -> timedelta:
        """The longest this can be, in days (a year is at most 366): for comparisons."""
        return timedelta(days=self.amount * {"d": 1, "w": 7, "y": 366}[self.unit])

    def at_least(self) -> timedelta:
        return timedelta(days=self.amount * {"d": 1, "w": 7, "y": 365}[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


DEFAULTS: Mapping[RecordKind, Duration | None] = {
    # Records Management Code of Practice 2023, Appendix II: adult social care and adult health
    # records, 8 years after the end of care (docs/data-protection.md, Retention).
    RecordKind.REFERRAL: Duration(8, "y"),
    RecordKind.REJECTION: Duration(2, "y"),
    RecordKind.ROUTING_DECISION: Duration(2, "y"),
    RecordKind.DELIVERY: Duration(1, "y"),
    RecordKind.PROCESSED_EVENT: Duration(60, "d"),
    RecordKind.EVENT: Duration(30, "d"),
}

_DURATION = re.compile(r"^(\d+)\s*([dwy])$")


class RetentionSettingError(ValueError):
    """`HUB_RETENTION` cannot be read; the message names the pair at fault."""


def parse_duration(text: str) -> Duration | None:
    """`8y`, `30d`, `12w` or `never` (None)."""
    cleaned = text.strip().lower()
    if cleaned == "never":
        return NEVER
    match = _DURATION.match(cleaned)
    if not match or int(match.group(1)) <= 0:
        raise RetentionSettingError(
            f"retention {text!r} is not a duration: use a positive whole number and d, w or y"
            " (e.g. 8y, 30d), or never"
        )
    return Duration(int(match.group(1)), match.group(2))


@dataclass(frozen=True)
class RetentionPolicy:
    """The schedule: one duration (or never) per record kind."""

    periods: Mapping[RecordKind, Duration | None]

    @classmethod
    def parse(cls, setting: str | None) -> RetentionPolicy:
        """The defaults, overridden by `setting`: `kind=duration` pairs separated by commas
        (`referral=10y, event=14d`). An unknown kind, a bad duration, a kind given twice, or a
        schedule under which deduplication would forget events Kafka still holds, is refused."""
        periods: dict[RecordKind, Duration | None] = dict(DEFAULTS)
        seen: set[RecordKind] = set()
        for pair in (setting or "").split(","):
            if not pair.strip():
                continue
            name, equals, value = pair.partition("=")
            if not equals:
                raise RetentionSettingError(f"HUB_RETENTION: {pair.strip()!r} is not kind=duration")
            try:
                kind = RecordKind(name.strip().lower())
            except ValueError:
                known = ", ".join(k.value for k in RecordKind)
                raise RetentionSettingError(
                    f"HUB_RETENTION: unknown record kind {name.strip()!r}; known: {known}"
                ) from None
            if kind in seen:
                raise RetentionSettingError(f"HUB_RETENTION: {kind.value} is given twice")
            seen.add(kind)
            try:
                periods[kind] = parse_duration(value)
            except RetentionSettingError as error:
                raise RetentionSettingError(f"HUB_RETENTION: {kind.value}: {error}") from None
        policy = cls(periods)
        policy._check_deduplication_outlives_topics()
        return policy

    def _check_deduplication_outlives_topics(self) -> None:
        processed, event = self.periods[RecordKind.PROCESSED_EVENT], self.periods[RecordKind.EVENT]
        if processed is NEVER:
            return
        if event is NEVER or processed.at_least() < event.at_most():
            raise RetentionSettingError(
                f"HUB_RETENTION: processed-event ({processed}) must be at least as long as"
                f" event ({event or 'never'}): a consumer re-reading a topic would apply again"
                " events it has forgotten"
            )

    def period(self, kind: RecordKind) -> Duration | None:
        return self.periods[kind]

    def cutoff(self, kind: RecordKind, now: datetime) -> datetime | None:
        """Records of `kind` whose clock started before this moment have expired; None: never."""
        period = self.periods[kind]
        return None if period is NEVER else period.before(now)

    def expired(self, kind: RecordKind, started: datetime, now: datetime) -> bool:
        """Whether a record of `kind` whose clock started at `started` has expired at `now`."""
        cutoff = self.cutoff(kind, now)
        return cutoff is not None and started < cutoff

    def topic_retention_ms(self) -> int:
        """Kafka `retention.ms` for the non-compacted topics; -1 (keep) for `never`. Kafka
        counts in milliseconds, so a number of years is taken at 365 days."""
        period = self.periods[RecordKind.EVENT]
        if period is NEVER:
            return -1
        return int(period.at_least() / timedelta(milliseconds=1))


Purge = Callable[[datetime, int], Awaitable[int]]
"""Lets go of at most `limit` records whose clock started before `cutoff`; returns how many."""


@dataclass(frozen=True)
class RetentionStep:
    """One table's (or one group of tables') share of a sweep."""

    name: str
    kind: RecordKind
    purge: Purge


class RetentionSweep:
    """Runs every step of a service's schedule, `batch` records per transaction, until each
    comes back short. Each batch is its own transaction, so a large backlog (the first run
    after an upgrade) never holds locks for long, and replicas sweeping at once share the
    work (the stores claim rows with SKIP LOCKED)."""

    def __init__(
        self,
        policy: RetentionPolicy,
        steps: Sequence[RetentionStep],
        *,
        batch: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._policy = policy
        self._steps = tuple(steps)
        self._batch = batch
        self._clock = clock

    async def sweep(self) -> dict[str, int]:
        """One pass over every step; the count each let go of (logged: counts, never ids)."""
        now = self._clock()
        done: dict[str, int] = {}
        for step in self._steps:
            cutoff = self._policy.cutoff(step.kind, now)
            if cutoff is None:
                continue
            total = 0
            while True:
                count = await step.purge(cutoff, self._batch)
                total += count
                if count < self._batch:
                    break
            done[step.name] = total
        if any(done.values()):
            log.info(
                "retention sweep: %s",
                ", ".join(f"{name} {count}" for name, count in done.items() if count),
            )
        return done
