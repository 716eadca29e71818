"""Block Kit for the X read-budget warning: posted in the alert channel, naming the admins,
once per month at `warn_at_percent` and once at 100 % (when the searches pause)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.core.models import XBudgetAlert
from bot.slack.cards.mention_card import principal_mention
from policies.config import XBudget
from policies.x_budget import FULL, MonthSpend

KIND_LABELS = {"owned_read": "owned reads", "post_read": "post reads", "user_read": "user reads"}


@dataclass(frozen=True)
class BudgetAlertView:
    alert: XBudgetAlert
    budget: XBudget
    admins: list[str]
    now: MonthSpend  # the month's figures when the card is sent


def fallback_text(view: BudgetAlertView) -> str:
    alert = view.alert
    return f"X reads for {alert.month} passed {alert.threshold} % of the monthly budget."


def build_budget_alert(view: BudgetAlertView) -> list[dict[str, Any]]:
    alert = view.alert
    blocks: list[Block] = [
        SectionBlock(block_id="budget_header", text=MarkdownTextObject(text=_headline(view))),
        SectionBlock(block_id="budget_figures", text=MarkdownTextObject(text=_figures(view))),
        ContextBlock(
            block_id="budget_next",
            elements=[MarkdownTextObject(text=_what_now(alert.threshold, alert.month))],
        ),
    ]
    return [block.to_dict() for block in blocks]


def _headline(view: BudgetAlertView) -> str:
    alert = view.alert
    icon = ":no_entry:" if alert.threshold >= FULL else ":warning:"
    who = " ".join(principal_mention(p) for p in view.admins)
    return (
        f"{icon} *X reads have used {alert.percent:.0f} % of {alert.month}'s budget* "
        f"(warning at {alert.threshold} %). {who}"
    )[:3000]


def _figures(view: BudgetAlertView) -> str:
    used, budget = view.now.used, view.budget
    reads = f"{used.reads:,} reads" + (
        f" of {budget.monthly_reads:,}" if budget.monthly_reads is not None else ""
    )
    usd = f"about ${used.usd:,.2f}" + (
        f" of ${budget.monthly_usd:,.2f}" if budget.monthly_usd is not None else ""
    )
    kinds = " · ".join(
        f"{KIND_LABELS.get(kind, kind)} {n:,} (${used.usd_by_kind.get(kind, 0.0):,.2f})"
        for kind, n in sorted(used.reads_by_kind.items())
    )
    return f"So far this month: {reads}, {usd} at `x_prices`.\n{kinds}"[:3000]


def _what_now(threshold: int, month: str) -> str:
    if threshold < FULL:
        return (
            "At 100 % brandbot stops the keyword and hashtag searches and keeps polling the "
            "accounts' own mentions. Raising `x_budget` in app.yaml (and restarting) avoids that."
        )
    year, number = (int(part) for part in month.split("-"))
    resumes = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return (
        "Searches are paused: brandbot now polls only the accounts' own mentions and timelines "
        f"(owned reads) until {resumes:%b} {resumes.day} (UTC), or until a higher `x_budget` in "
        "app.yaml is loaded (on restart). Nothing already found is lost."
    )


def budget_line(month: MonthSpend) -> str:
    """The month's X reads against the budget, in one line (report details, /brand segments)."""
    used = month.used
    line = f"{used.reads:,} reads, about ${used.usd:,.2f}"
    limits = [f"{month.monthly_reads:,} reads"] if month.monthly_reads is not None else []
    limits += [f"${month.monthly_usd:,.2f}"] if month.monthly_usd is not None else []
    if month.percent is None:
        return f"{line} (no monthly budget set)"
    line += f": {month.percent:.0f} % of the budget ({' and '.join(limits)})"
    if not month.searches_allowed:
        line += "; searches paused, mentions still polled"
    return line
