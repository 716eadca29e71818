"""The monthly X read budget (policies/x_budget.py): reads and dollars by price kind, the share
used, the warnings due, and when searches stop."""

from __future__ import annotations

import pytest

from policies.config import XBudget, XPrices
from policies.x_budget import (
    searches_allowed,
    spend,
    thresholds_reached,
    used_percent,
)

PRICES = XPrices()  # post read $0.005, user read $0.010, owned read $0.001


def test_reads_are_priced_by_the_kind_of_endpoint() -> None:
    used = spend(
        [
            ("mentions", 1000),
            ("timeline", 200),
            ("search", 400),
            ("tweet", 10),
            ("user", 5),
            ("mentions", 0),
            ("someday", 2),
        ],
        PRICES,
    )
    assert dict(used.reads_by_kind) == {"owned_read": 1200, "post_read": 412, "user_read": 5}
    assert dict(used.usd_by_kind) == {"owned_read": 1.2, "post_read": 2.06, "user_read": 0.05}
    assert (used.reads, used.usd) == (1617, 3.31)


@pytest.mark.parametrize(
    ("reads", "usd", "searched", "expected"),
    [
        (None, None, 10_000, None),  # no budget: unlimited
        (1000, None, 800, 80.0),
        (None, 10.0, 800, 40.0),  # 800 search reads = $4
        (1000, 10.0, 800, 80.0),  # both: the higher share counts
        (10_000, 2.0, 800, 200.0),
    ],
)
def test_used_percent(
    reads: int | None, usd: float | None, searched: int, expected: float | None
) -> None:
    budget = XBudget(monthly_reads=reads, monthly_usd=usd)
    assert used_percent(spend([("search", searched)], PRICES), budget) == expected


@pytest.mark.parametrize(
    ("percent", "warn_at", "reached", "searching"),
    [
        (None, 80, [], True),
        (79.9, 80, [], True),
        (80.0, 80, [80], True),
        (99.99, 80, [80], True),
        (100.0, 80, [80, 100], False),  # at 100 %: mentions only
        (250.0, 50, [50, 100], False),
    ],
)
def test_warnings_and_the_fallback(
    percent: float | None, warn_at: int, reached: list[int], searching: bool
) -> None:
    budget = XBudget(monthly_reads=1000, warn_at_percent=warn_at)
    assert thresholds_reached(percent, budget) == reached
    assert searches_allowed(percent) is searching
