"""When to poll an X source next: quick while its tweets flow, slower when it is quiet, and never
faster than X's 15-minute rate-limit window can sustain.

Decisions:

- A source stays at ``poll_seconds`` until it has found nothing new for ``QUIET_AFTER`` (a lull
  between two tweets of a busy hour is not quiet); after that the interval is a quarter of the
  time it has been quiet, so it reaches ``poll_quiet_seconds`` gradually (idle 4 minutes → 60 s)
  and one new tweet brings it straight back to ``poll_seconds``.
- The next poll is timed from the start of the last one, so the period is the interval itself,
  not the interval plus however long the poll took.
- X's headers say how many requests are left in the window and when it resets. The requests one
  poll made, times the sources sharing that limit, spread over what is left of the window, is a
  floor under the interval: while plenty is left the floor is below ``poll_seconds`` and changes
  nothing; near the end of the allowance it spaces the rest of the window out evenly instead of
  spending it at once and waiting on 429s. With nothing left, the next poll waits for the reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

QUIET_AFTER = timedelta(minutes=1)
SLOWDOWN = 4  # quiet for N seconds → poll every N / SLOWDOWN seconds (within the bounds)


@dataclass(frozen=True)
class RateWindow:
    """What X's last answer on an endpoint said: x-rate-limit-remaining, x-rate-limit-reset."""

    remaining: int
    reset_at: datetime


def adaptive_interval(*, idle: timedelta, fast_seconds: int, slow_seconds: int) -> timedelta:
    """The interval for a source that last found something new `idle` ago."""
    fast, slow = timedelta(seconds=fast_seconds), timedelta(seconds=max(slow_seconds, fast_seconds))
    if idle <= QUIET_AFTER:
        return fast
    return min(slow, max(fast, idle / SLOWDOWN))


def rate_floor(
    window: RateWindow | None, *, now: datetime, requests: int = 1, sharing: int = 1
) -> timedelta:
    """The least interval that keeps this source's share of the window's remaining requests
    lasting until the reset (`requests` per poll, `sharing` sources on the same limit)."""
    if window is None or window.reset_at <= now:
        return timedelta(0)  # unknown, or a fresh window has begun
    left = window.reset_at - now
    if window.remaining <= 0:
        return left
    return left * max(requests, 1) * max(sharing, 1) / window.remaining


def next_poll_at(
    *,
    started: datetime,
    now: datetime,
    idle: timedelta,
    fast_seconds: int,
    slow_seconds: int,
    window: RateWindow | None = None,
    requests: int = 1,
    sharing: int = 1,
) -> datetime:
    """When a source polled at `started` (finished `now`) is due again."""
    interval = adaptive_interval(idle=idle, fast_seconds=fast_seconds, slow_seconds=slow_seconds)
    floor = rate_floor(window, now=now, requests=requests, sharing=sharing)
    if window is not None and window.remaining <= 0 and window.reset_at > now:
        return max(started + interval, window.reset_at)  # nothing left: not before the reset
    return max(started + max(interval, floor), now)
