"""Which stretch of time a report covers, and the arithmetic of its figures. Pure.

A report's window is, by default, the last *complete* hour, day or week in the team's time zone
(the digest reports the same window: yesterday's figures at 09:00, last week's on Monday), so
two runs on the same day print the same numbers. `--since` opens a window from then until now.
Weeks run Monday to Sunday (ISO weeks).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["hour", "day", "week"]
PERIODS: tuple[Period, ...] = ("hour", "day", "week")
_RELATIVE = re.compile(r"([0-9]{1,6})\s*([mhdw])", re.IGNORECASE)  # \d takes other digits
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_WINDOW = timedelta(days=366)  # a longer report is a typo, not a question


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC, with how it was chosen (for the report's heading)."""

    start: datetime
    end: datetime
    period: Period
    time_zone: str
    complete: bool  # the whole period is past (False for `--since … until now`)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def local(self, at: datetime) -> datetime:
        return at.astimezone(ZoneInfo(self.time_zone))


def _wall(local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` (DST-safe: arithmetic is done on naive wall times)."""
    return local.replace(tzinfo=tz)


def period_start(period: Period, at: datetime, time_zone: str) -> datetime:
    """The start (UTC) of the hour/day/ISO week in `time_zone` that contains `at`."""
    tz = ZoneInfo(time_zone)
    local = at.astimezone(tz).replace(tzinfo=None)
    match period:
        case "hour":
            wall = local.replace(minute=0, second=0, microsecond=0)
        case "day":
            wall = datetime.combine(local.date(), time())
        case "week":
            wall = datetime.combine(local.date() - timedelta(days=local.weekday()), time())
    return _wall(wall, tz).astimezone(UTC)


def step(period: Period, start: datetime, time_zone: str, count: int = 1) -> datetime:
    """`start` moved by `count` periods of wall-clock time in `time_zone` (a day is 23 or 25
    hours across a DST change)."""
    tz = ZoneInfo(time_zone)
    local = start.astimezone(tz).replace(tzinfo=None)
    delta = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    if period == "hour":  # hours are absolute: wall-clock hours repeat or vanish at DST
        return start + delta["hour"] * count
    return _wall(local + delta[period] * count, tz).astimezone(UTC)


def last_complete(period: Period, now: datetime, time_zone: str) -> Window:
    end = period_start(period, now, time_zone)
    return Window(step(period, end, time_zone, -1), end, period, time_zone, complete=True)


def parse_since(value: str, now: datetime, time_zone: str) -> datetime:
    """`30m`, `24h`, `7d`, `2w` before now, or an ISO date / datetime. A date is its midnight and
    a datetime without an offset is wall-clock time, both in the team's `time_zone`."""
    text = value.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        try:
            return now - timedelta(**{_UNITS[unit]: amount})
        except OverflowError:  # 999999w is before year 1: far past any window `window` allows
            raise ValueError(
                f"--since {value!r} reaches back more than {MAX_WINDOW.days} days"
            ) from None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = datetime.combine(datetime.fromisoformat(text).date(), time())
        elif re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", text):
            parsed = datetime.fromisoformat(text)
        else:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"--since {value!r}: use a duration like 30m, 24h, 7d, 2w, "
            "or an ISO date/datetime like 2026-11-01 or 2026-11-01T09:30"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(time_zone))
    return parsed.astimezone(UTC)


def window(period: Period, now: datetime, time_zone: str, since: str | None = None) -> Window:
    """The report's window: the last complete period, or from `since` until now."""
    if since is None:
        return last_complete(period, now, time_zone)
    start = parse_since(since, now, time_zone)
    if start >= now:
        raise ValueError(f"--since {since!r} is not in the past")
    if now - start > MAX_WINDOW:
        raise ValueError(f"--since {since!r} reaches back more than {MAX_WINDOW.days} days")
    return Window(start, now, period, time_zone, complete=False)


def bucket_edges(win: Window) -> list[datetime]:
    """Edges of the chart's volume bars: 5 minutes across an hour or two, hours across a day or
    two, days beyond that; the last edge is the window's end."""
    if win.seconds <= 2 * 3600:
        size: Period | None = None
    elif win.seconds <= 2 * 86400:
        size = "hour"
    else:
        size = "day"
    edges = [win.start]
    while edges[-1] < win.end:
        if size is None:
            following = edges[-1] + timedelta(minutes=5)
        elif len(edges) == 1:  # the first bar ends on a round hour/day, the rest are whole
            following = step(size, period_start(size, win.start, win.time_zone), win.time_zone)
        else:
            following = step(size, edges[-1], win.time_zone)
        edges.append(min(following, win.end))
    return edges


def nearest_rank(values: Sequence[float], percentile: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `percentile`% of values at
    or below it (always an observed value; None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]
