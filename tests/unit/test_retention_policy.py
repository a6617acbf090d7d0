"""The retention schedule: how HUB_RETENTION is read, and when a record has expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub_cli import main as cli
from hub_common.privacy.retention import (
    DEFAULTS,
    Duration,
    RecordKind,
    RetentionPolicy,
    RetentionSettingError,
    RetentionStep,
    RetentionSweep,
    parse_duration,
)
from hub_common.settings import InfraSettings

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_the_defaults_follow_the_records_management_code() -> None:
    policy = RetentionPolicy.parse(None)
    assert policy.period(RecordKind.REFERRAL) == Duration(8, "y")
    assert policy.periods == DEFAULTS
    assert set(DEFAULTS) == set(RecordKind)  # every kind has a default


def test_pairs_override_the_defaults_and_leave_the_others() -> None:
    policy = RetentionPolicy.parse(" referral=10y , Rejection=18w,event=14d ")
    assert policy.period(RecordKind.REFERRAL) == Duration(10, "y")
    assert policy.period(RecordKind.REJECTION) == Duration(18, "w")
    assert policy.period(RecordKind.EVENT) == Duration(14, "d")
    assert policy.period(RecordKind.DELIVERY) == DEFAULTS[RecordKind.DELIVERY]


def test_never_keeps_a_kind() -> None:
    policy = RetentionPolicy.parse("delivery=never")
    assert policy.period(RecordKind.DELIVERY) is None
    assert policy.cutoff(RecordKind.DELIVERY, NOW) is None
    assert not policy.expired(RecordKind.DELIVERY, NOW - timedelta(days=100_000), NOW)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("referal=8y", "unknown record kind 'referal'"),
        ("referral", "'referral' is not kind=duration"),
        ("referral=8", "referral: retention '8' is not a duration"),
        ("referral=8 months", "referral"),
        ("referral=0y", "referral"),
        ("referral=-1y", "referral"),
        ("referral=8y,referral=9y", "referral is given twice"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_pair(setting: str, named: str) -> None:
    with pytest.raises(RetentionSettingError, match=named):
        RetentionPolicy.parse(setting)


def test_deduplication_must_outlive_the_topics() -> None:
    with pytest.raises(RetentionSettingError, match="processed-event"):
        RetentionPolicy.parse("processed-event=7d")  # topics keep 30 days by default
    with pytest.raises(RetentionSettingError, match="processed-event"):
        RetentionPolicy.parse("event=never")
    with pytest.raises(RetentionSettingError, match="processed-event"):
        RetentionPolicy.parse("event=1y,processed-event=365d")  # a leap year is 366
    RetentionPolicy.parse("event=7d,processed-event=7d")
    RetentionPolicy.parse("event=never,processed-event=never")


def test_the_service_refuses_to_start_with_a_bad_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_RETENTION", "referral=eight years")
    with pytest.raises(ValueError, match="referral"):
        InfraSettings()
    monkeypatch.setenv("HUB_RETENTION", "referral=9y")
    assert InfraSettings().retention_policy.period(RecordKind.REFERRAL) == Duration(9, "y")


def test_years_are_calendar_years() -> None:
    policy = RetentionPolicy.parse("referral=8y")
    assert policy.cutoff(RecordKind.REFERRAL, NOW) == datetime(2018, 12, 3, 12, 0, tzinfo=UTC)
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    assert policy.cutoff(RecordKind.REFERRAL, leap) == datetime(2020, 2, 29, 9, 0, tzinfo=UTC)
    assert RetentionPolicy.parse("referral=1y").cutoff(RecordKind.REFERRAL, leap) == datetime(
        2027, 2, 28, 9, 0, tzinfo=UTC
    )


def test_a_record_expires_only_once_its_whole_period_has_passed() -> None:
    policy = RetentionPolicy.parse("rejection=30d")
    closed = NOW - timedelta(days=30)
    assert not policy.expired(RecordKind.REJECTION, closed, NOW)  # exactly the period: kept
    assert policy.expired(RecordKind.REJECTION, closed - timedelta(seconds=1), NOW)
    assert not policy.expired(RecordKind.REJECTION, closed + timedelta(days=1), NOW)
    weeks = RetentionPolicy.parse("rejection=2w")
    assert weeks.cutoff(RecordKind.REJECTION, NOW) == NOW - timedelta(days=14)


def test_topic_retention_in_milliseconds() -> None:
    assert RetentionPolicy.parse(None).topic_retention_ms() == 30 * 24 * 3600 * 1000
    assert RetentionPolicy.parse("event=never,processed-event=never").topic_retention_ms() == -1


def test_parse_duration() -> None:
    assert parse_duration("12W") == Duration(12, "w")
    assert parse_duration(" never ") is None
    assert str(Duration(8, "y")) == "8y"


async def test_the_sweep_drains_each_step_in_batches_with_its_own_cutoff() -> None:
    calls: list[tuple[str, datetime, int]] = []
    backlog = {"referrals": 7, "deliveries": 0}

    def step(name: str, kind: RecordKind) -> RetentionStep:
        async def purge(cutoff: datetime, limit: int) -> int:
            calls.append((name, cutoff, limit))
            done = min(limit, backlog[name])
            backlog[name] -= done
            return done

        return RetentionStep(name, kind, purge)

    sweep = RetentionSweep(
        RetentionPolicy.parse("referral=8y,delivery=never"),
        [step("referrals", RecordKind.REFERRAL), step("deliveries", RecordKind.DELIVERY)],
        batch=3,
        clock=lambda: NOW,
    )
    assert await sweep.sweep() == {"referrals": 7}
    eight_years_ago = datetime(2018, 12, 3, 12, 0, tzinfo=UTC)
    # 3 + 3 + 1: a short batch ends the step; `never` is not even asked.
    assert calls == [("referrals", eight_years_ago, 3)] * 3


async def test_topics_ensure_gives_the_topics_the_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, object] = {}

    async def ensure_topics(kafka: object, topics: object, **options: object) -> list[str]:
        seen.update(options)
        return []

    monkeypatch.setattr(cli, "ensure_topics", ensure_topics)
    monkeypatch.setenv("HUB_RETENTION", "event=14d")
    await cli.topics_ensure(InfraSettings())
    retention = seen["retention"]
    assert isinstance(retention, RetentionPolicy)
    assert retention.topic_retention_ms() == 14 * 24 * 3600 * 1000
