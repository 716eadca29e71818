"""The monthly X read budget: what each read costs, how much of the budget a month has used, which
warnings are due, and whether searches may still run.

Decisions:

- A "read" is a resource X returned (a post or a user), as X bills them; requests that returned
  nothing cost nothing. Each endpoint is billed at one `x_prices` kind (PRICE_KIND).
- The month is the calendar month in UTC (X bills per UTC day). The budget is in reads, in US
  dollars, or both: the percentage used is the higher of the two.
- Warnings at `warn_at_percent` and at 100 %, each once per month. At 100 % the searches stop
  (post reads, five times an owned read) and the accounts' own mentions and own timelines go on
  (owned reads): the brand keeps answering the people who address it, and still sees posts made
  around brandbot, rather than going blind. Nothing stops at the budget but the searches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.config import XBudget, XPrices

# Which price each endpoint we read is billed at (X pay-per-use, see PLATFORM-FACTS).
PRICE_KIND = {
    "mentions": "owned_read",
    "timeline": "owned_read",
    "search": "post_read",
    "tweet": "post_read",
    "user": "user_read",
}
UNKNOWN_KIND = "post_read"  # an endpoint not listed: the dearer post read, to be safe
FULL = 100


def price_kind(endpoint: str) -> str:
    return PRICE_KIND.get(endpoint, UNKNOWN_KIND)


def cost_usd(endpoint: str, resources: int, prices: XPrices) -> float:
    return round(max(resources, 0) * float(getattr(prices, price_kind(endpoint))), 4)


@dataclass(frozen=True)
class Spend:
    """Reads (resources) and their estimated cost, by price kind, over some days."""

    reads_by_kind: Mapping[str, int]
    usd_by_kind: Mapping[str, float]

    @property
    def reads(self) -> int:
        return sum(self.reads_by_kind.values())

    @property
    def usd(self) -> float:
        return round(sum(self.usd_by_kind.values()), 4)


def spend(resources_by_endpoint: Iterable[tuple[str, int]], prices: XPrices) -> Spend:
    reads: dict[str, int] = {}
    usd: dict[str, float] = {}
    for endpoint, resources in resources_by_endpoint:
        kind = price_kind(endpoint)
        reads[kind] = reads.get(kind, 0) + max(resources, 0)
        usd[kind] = round(usd.get(kind, 0.0) + cost_usd(endpoint, resources, prices), 4)
    return Spend(reads, usd)


def used_percent(used: Spend, budget: XBudget) -> float | None:
    """How much of the month's budget is used (the higher of reads and dollars); None when the
    budget is unlimited."""
    shares = []
    if budget.monthly_reads is not None:
        shares.append(100.0 * used.reads / budget.monthly_reads)
    if budget.monthly_usd is not None:
        shares.append(100.0 * used.usd / budget.monthly_usd)
    return max(shares) if shares else None


def thresholds_reached(percent: float | None, budget: XBudget) -> list[int]:
    """The warning thresholds (percent) a month at `percent` has passed, lowest first."""
    if percent is None:
        return []
    return [t for t in (budget.warn_at_percent, FULL) if percent >= t]


def searches_allowed(percent: float | None) -> bool:
    """At 100 % polling falls back to the owned reads (mentions and own timelines)."""
    return percent is None or percent < FULL


@dataclass(frozen=True)
class MonthSpend:
    """One UTC month's reads so far against the budget."""

    month: str  # YYYY-MM
    used: Spend
    monthly_reads: int | None
    monthly_usd: float | None
    percent: float | None  # None: no budget set

    @property
    def searches_allowed(self) -> bool:
        return searches_allowed(self.percent)


def month_spend(month: str, used: Spend, budget: XBudget) -> MonthSpend:
    return MonthSpend(
        month=month,
        used=used,
        monthly_reads=budget.monthly_reads,
        monthly_usd=budget.monthly_usd,
        percent=used_percent(used, budget),
    )
