"""When a digest falls due, and for which period (in the team's time zone)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.reports.digest import due_period
from policies.config import DigestSettings


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES = [
    # every, at, weekday, zone, now (UTC), the period's start and end (UTC), or None
    ("day", "09:00", "mon", "UTC", "2026-12-02T09:00", ("2026-12-01T00:00", "2026-12-02T00:00")),
    ("day", "09:00", "mon", "UTC", "2026-12-02T08:59", None),
    ("day", "09:00", "mon", "UTC", "2026-12-02T14:59", ("2026-12-01T00:00", "2026-12-02T00:00")),
    ("day", "09:00", "mon", "UTC", "2026-12-02T15:00", None),  # six hours late: skipped
    # 09:00 in New York is 14:00 UTC; its yesterday began at 05:00 UTC
    (
        "day",
        "09:00",
        "mon",
        "America/New_York",
        "2026-12-02T14:00",
        ("2026-12-01T05:00", "2026-12-02T05:00"),
    ),
    ("day", "09:00", "mon", "America/New_York", "2026-12-02T13:59", None),
    ("hour", "09:00", "mon", "UTC", "2026-12-02T07:10", ("2026-12-02T06:00", "2026-12-02T07:00")),
    ("hour", "09:00", "mon", "UTC", "2026-12-02T07:45", None),
    # weekly on Monday 08:00, for Monday-to-Monday of the week before
    ("week", "08:00", "mon", "UTC", "2026-11-30T08:00", ("2026-11-23T00:00", "2026-11-30T00:00")),
    ("week", "08:00", "mon", "UTC", "2026-11-30T07:59", None),
    ("week", "08:00", "fri", "UTC", "2026-12-04T08:30", ("2026-11-23T00:00", "2026-11-30T00:00")),
    ("week", "08:00", "fri", "UTC", "2026-12-01T08:30", None),
]


@pytest.mark.parametrize(("every", "at", "weekday", "zone", "now", "expected"), CASES)
def test_due_period(
    every: str, at: str, weekday: str, zone: str, now: str, expected: tuple[str, str] | None
) -> None:
    settings = DigestSettings.model_validate(
        {"channel": "C0DIGEST", "every": every, "at": at, "weekday": weekday}
    )
    win = due_period(settings, utc(now), zone)
    if expected is None:
        assert win is None
    else:
        assert win is not None and (win.start, win.end) == (utc(expected[0]), utc(expected[1]))
