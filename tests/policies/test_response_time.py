"""How a mention stands against its first-response target (policies/response_time.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.response_time import Urgency, response_clock

SENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

CASES = [
    # seconds since the tweet, target (min), age (min), urgency, left, over
    (0, 15, 0, Urgency.WITHIN, 15, 0),
    (11 * 60 + 59, 15, 11, Urgency.WITHIN, 4, 0),
    (12 * 60, 15, 12, Urgency.DUE_SOON, 3, 0),  # the last fifth of 15 minutes
    (15 * 60, 15, 15, Urgency.DUE_SOON, 0, 0),  # at the target, not yet past it
    (15 * 60 + 1, 15, 15, Urgency.OVERDUE, 0, 0),
    (40 * 60, 15, 40, Urgency.OVERDUE, 0, 25),
    (3 * 60 + 30, 5, 3, Urgency.WITHIN, 2, 0),  # a short target: its last minute is "soon"
    (4 * 60, 5, 4, Urgency.DUE_SOON, 1, 0),
    (-90, 15, 0, Urgency.WITHIN, 15, 0),  # X's clock a little ahead of ours
    (30 * 60 * 60, 2880, 1800, Urgency.WITHIN, 1080, 0),  # two days: the last 576 min are soon
    (40 * 60 * 60, 2880, 2400, Urgency.DUE_SOON, 480, 0),
]


@pytest.mark.parametrize(("seconds", "target", "age", "urgency", "left", "over"), CASES)
def test_response_clock(
    seconds: int, target: int, age: int, urgency: Urgency, left: int, over: int
) -> None:
    clock = response_clock(since=SENT, now=SENT + timedelta(seconds=seconds), target_minutes=target)
    assert (clock.age_minutes, clock.urgency) == (age, urgency)
    assert (clock.minutes_left, clock.minutes_over) == (left, over)
