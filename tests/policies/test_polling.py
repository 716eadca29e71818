"""When a source is polled next (policies/polling.py): quick while tweets flow, slower when quiet,
never faster than poll_seconds, and inside X's 15-minute rate-limit window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.polling import RateWindow, adaptive_interval, next_poll_at, rate_floor

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("idle_s", "fast", "slow", "expected_s"),
    [
        (0, 5, 60, 5),  # a tweet just came in: poll_seconds
        (45, 5, 60, 5),  # a lull inside a busy minute is not quiet
        (60, 5, 60, 5),
        (80, 5, 60, 20),  # quiet: a quarter of the quiet time
        (240, 5, 60, 60),  # ...reaching poll_quiet_seconds
        (86_400, 5, 60, 60),  # never slower than poll_quiet_seconds
        (80, 30, 60, 30),  # never faster than poll_seconds
        (600, 30, 10, 30),  # a quiet interval below poll_seconds: poll_seconds wins
    ],
)
def test_adaptive_interval(idle_s: int, fast: int, slow: int, expected_s: int) -> None:
    interval = adaptive_interval(idle=idle_s * S, fast_seconds=fast, slow_seconds=slow)
    assert interval == expected_s * S


@pytest.mark.parametrize(
    ("remaining", "reset_in_s", "requests", "sharing", "expected_s"),
    [
        (None, None, 1, 1, 0),  # no headers seen: no floor
        (450, 900, 1, 1, 2),  # plenty left: far below poll_seconds
        (10, 100, 1, 1, 10),  # near the end: the rest spread over the window
        (10, 100, 2, 1, 20),  # two pages a poll use the allowance twice as fast
        (10, 100, 1, 5, 50),  # five searches share the one search limit
        (0, 300, 1, 1, 300),  # nothing left: wait for the reset
        (0, -5, 1, 1, 0),  # the reset has passed: a fresh window
    ],
)
def test_rate_floor(
    remaining: int | None, reset_in_s: int | None, requests: int, sharing: int, expected_s: int
) -> None:
    window = (
        None
        if remaining is None or reset_in_s is None
        else RateWindow(remaining, NOW + reset_in_s * S)
    )
    floor = rate_floor(window, now=NOW, requests=requests, sharing=sharing)
    assert floor == expected_s * S


@pytest.mark.parametrize(
    ("took_s", "idle_s", "window", "due_in_s"),
    [
        (0.2, 0, None, 4.8),  # timed from the poll's start: the period is poll_seconds, not 5.2
        (7, 0, None, 0),  # a poll longer than the interval: due again at once
        (0.2, 300, None, 59.8),  # quiet for five minutes: poll_quiet_seconds
        (0.2, 0, RateWindow(3, NOW + 60 * S), 19.8),  # three left for a minute: one every 20 s
        (0.2, 0, RateWindow(0, NOW + 90 * S), 90),  # none left: at the reset, not before
        (0.2, 300, RateWindow(0, NOW + 10 * S), 59.8),  # ... unless quiet polling is later anyway
    ],
)
def test_next_poll_at(
    took_s: float, idle_s: int, window: RateWindow | None, due_in_s: float
) -> None:
    due = next_poll_at(
        started=NOW - took_s * S,
        now=NOW,
        idle=idle_s * S,
        fast_seconds=5,
        slow_seconds=60,
        window=window,
    )
    assert due == NOW + due_in_s * S
