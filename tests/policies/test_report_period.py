"""Which window a report covers, `--since`, the chart's bars, percentiles and who may see it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from policies.permissions import may_see_report
from policies.report_period import bucket_edges, nearest_rank, parse_since, window

NOW = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)  # a Wednesday

WINDOWS = [
    # period, time zone, start, end (UTC): the last complete one
    ("hour", "UTC", "2026-12-02T06:00", "2026-12-02T07:00"),
    ("day", "UTC", "2026-12-01T00:00", "2026-12-02T00:00"),
    ("week", "UTC", "2026-11-23T00:00", "2026-11-30T00:00"),  # Monday to Monday
    # 07:30 UTC is 02:30 on the 2nd in New York: its yesterday, the 1st, began at 05:00 UTC
    ("day", "America/New_York", "2026-12-01T05:00", "2026-12-02T05:00"),
    # 07:30 UTC is 18:30 in Sydney (UTC+11): the day that ended at its midnight
    ("day", "Australia/Sydney", "2026-11-30T13:00", "2026-12-01T13:00"),
    ("hour", "Asia/Kolkata", "2026-12-02T06:30", "2026-12-02T07:30"),  # a half-hour zone
]


@pytest.mark.parametrize(("period", "zone", "start", "end"), WINDOWS)
def test_default_window_is_the_last_complete_period(
    period: str, zone: str, start: str, end: str
) -> None:
    win = window(period, NOW, zone)  # type: ignore[arg-type]
    assert (win.start, win.end) == (
        datetime.fromisoformat(start).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
    )
    assert win.complete


def test_a_day_across_the_dst_change_is_25_hours() -> None:
    # Europe/London leaves summer time on Sunday 25 October 2026
    win = window("day", datetime(2026, 10, 26, 12, tzinfo=UTC), "Europe/London")
    assert win.end - win.start == timedelta(hours=25)


SINCE = [
    ("24h", "UTC", NOW - timedelta(hours=24)),
    ("30m", "UTC", NOW - timedelta(minutes=30)),
    ("2w", "UTC", NOW - timedelta(weeks=2)),
    ("2026-12-01", "UTC", datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026-12-01", "Europe/Paris", datetime(2026, 11, 30, 23, tzinfo=UTC)),  # local midnight
    ("2026-12-01T09:30", "Europe/Paris", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
    ("2026-12-01T09:30Z", "Europe/Paris", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "zone", "expected"), SINCE)
def test_since(text: str, zone: str, expected: datetime) -> None:
    assert parse_since(text, NOW, zone) == expected
    win = window("day", NOW, zone, text)
    assert (win.start, win.end, win.complete) == (expected, NOW, False)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("yesterdayy", "use a duration like"),
        ("2026-13-01", "use a duration like"),
        ("2027-01-01", "not in the past"),
        ("400d", "more than 366 days"),
        ("999999w", "more than 366 days"),  # before year 1: once an OverflowError
        ("999999d", "more than 366 days"),
        ("\u0663d", "use a duration like"),  # an Arabic-Indic 3 is a digit to \\d, not to us
    ],
)
def test_bad_since_says_what_to_write(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        window("day", NOW, "UTC", text)


def test_bars_are_hours_across_a_day_and_days_across_a_week() -> None:
    day = window("day", NOW, "UTC")
    assert len(bucket_edges(day)) == 25
    week = window("week", NOW, "UTC")
    edges = bucket_edges(week)
    assert len(edges) == 8 and all(b - a == timedelta(days=1) for a, b in itertools.pairwise(edges))
    hour = window("hour", NOW, "UTC")
    assert len(bucket_edges(hour)) == 13  # 5-minute bars
    rolling = window("day", NOW, "UTC", "24h")  # from 07:30: the first bar ends at 08:00
    edges = bucket_edges(rolling)
    assert edges[1] - edges[0] == timedelta(minutes=30) and edges[-1] == NOW


@pytest.mark.parametrize(
    ("values", "percentile", "expected"),
    [
        ([], 50, None),
        ([7], 90, 7),
        ([300, 1200, 600], 50, 600),
        ([300, 1200, 600], 90, 1200),
        ([1, 2, 3, 4], 50, 2),  # nearest rank: an observed value, never 2.5
        (list(range(1, 11)), 90, 9),
        (list(range(1, 12)), 90, 10),
    ],
)
def test_nearest_rank(values: list[float], percentile: float, expected: float | None) -> None:
    assert nearest_rank(values, percentile) == expected


@pytest.mark.parametrize(
    ("is_admin", "in_team_channel", "allowed"),
    [(True, False, True), (False, True, True), (True, True, True), (False, False, False)],
)
def test_who_may_see_a_report(is_admin: bool, in_team_channel: bool, allowed: bool) -> None:
    decision = may_see_report(is_admin=is_admin, in_team_channel=in_team_channel)
    assert decision.allowed is allowed
    assert allowed or "segment's channel" in decision.reason
