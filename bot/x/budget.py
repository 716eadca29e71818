"""The monthly X read budget: month-to-date reads and estimated spend by kind (from the reads
ledger, `x_read`), the admins' warnings at `warn_at_percent` and at 100 %, and whether searches
may still run (at 100 % the poller keeps only the owned reads: mentions and own timelines).

A warning is one `x_budget_alert` row per month and threshold: inserting it is the claim (the
primary key lets one process win, whichever replica or restart gets there), and its card is
queued in the outbox in that same transaction, so admins hear of each threshold exactly once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, table_of, transaction
from bot.core.models import SlackMessage, XBudgetAlert, XRead
from bot.core.segments import SegmentCatalog
from bot.slack.cards.budget_alert import BudgetAlertView, build_budget_alert, fallback_text
from policies import x_budget
from policies.config import BrandConfig
from policies.x_budget import MonthSpend

log = logging.getLogger(__name__)

BUDGET_ALERT = "x_budget_alert"  # outbox kind


def month_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def month_spend(session: Session, config: BrandConfig, at: datetime) -> MonthSpend:
    """The UTC month of `at`: its reads so far, by price kind, against the budget."""
    month = month_of(at)
    rows = session.execute(
        select(col(XRead.endpoint), func.sum(XRead.resources))
        .where(col(XRead.day) >= f"{month}-01", col(XRead.day) <= f"{month}-31")  # the key
        .group_by(col(XRead.endpoint))
    ).all()
    used = x_budget.spend(((str(e), int(n or 0)) for e, n in rows), config.x_prices)
    return x_budget.month_spend(month, used, config.x_budget)


class XBudgetService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def month_to_date(self, at: datetime | None = None) -> MonthSpend:
        """This UTC month's reads and spend (read-only: takes no write lock)."""
        with transaction(self._ctx.engine, read_only=True) as session:
            return month_spend(session, self._ctx.segments.config, at or self._ctx.clock.now())

    def searches_allowed(self) -> bool:
        """Whether this pass may poll the searches; a failure to tell never stops polling."""
        try:
            return self.month_to_date().searches_allowed
        except Exception:
            log.exception("could not read the X read budget; polling as usual")
            return True

    def check(self, _polled: object = None) -> list[XBudgetAlert]:
        """Raise the warnings this month has reached and no process has raised yet."""
        spent = self.month_to_date()
        due = x_budget.thresholds_reached(spent.percent, self._ctx.segments.config.x_budget)
        if not due:
            return []
        with transaction(self._ctx.engine, read_only=True) as session:
            raised = set(
                session.scalars(
                    select(col(XBudgetAlert.threshold)).where(
                        col(XBudgetAlert.month) == spent.month
                    )
                )
            )
        missing = [t for t in due if t not in raised]
        if not missing:
            return []
        alerts = self._raise(spent, missing)
        if alerts:
            self._ctx.hooks.cards_changed()
        return alerts

    def _raise(self, spent: MonthSpend, thresholds: list[int]) -> list[XBudgetAlert]:
        now = self._ctx.clock.now()
        config = self._ctx.segments.config
        alerts = []
        with self._ctx.transaction() as session:
            for threshold in thresholds:
                row = {
                    "month": spent.month,
                    "threshold": threshold,
                    "raised_at": now,
                    "reads": spent.used.reads,
                    "usd": spent.used.usd,
                    "percent": round(spent.percent or 0.0, 2),
                }
                stmt = insert_ignoring_conflicts(self._ctx.engine, table_of(XBudgetAlert))
                won = session.execute(stmt.returning(col(XBudgetAlert.month)), [row]).scalar()
                if won is None:
                    continue  # another process raised it first: its card is queued
                subject = f"{spent.month}:{threshold}"
                ids = outbox.enqueue(
                    session,
                    [outbox.NewMessage(BUDGET_ALERT, subject, config.alert_channel)],
                    now=now,
                )
                alert = session.get(XBudgetAlert, (spent.month, threshold))
                assert alert is not None
                alert.card_id = ids[subject]
                session.add(alert)
                audit.record(
                    session,
                    actor=audit.SYSTEM,
                    action="x.budget_alert",
                    subject=f"x_budget:{spent.month}",
                    at=now,
                    after={k: v for k, v in row.items() if k != "raised_at"},
                )
                alerts.append(alert)
            for alert in alerts:
                session.refresh(alert)
                session.expunge(alert)
        for alert in alerts:
            log.warning(
                "X reads for %s passed %d%% of the budget (%d reads, about $%.2f)%s",
                alert.month,
                alert.threshold,
                alert.reads,
                alert.usd,
                ": searches paused, mentions go on" if alert.threshold >= x_budget.FULL else "",
            )
        return alerts


def budget_alert_renderer(segments: SegmentCatalog) -> outbox.Renderer:
    """The warning as it stands when sent (with the month's figures at that moment)."""

    def render(session: Session, message: SlackMessage) -> outbox.Rendered:
        month, _, threshold = message.subject_id.partition(":")
        alert = session.get(XBudgetAlert, (month, int(threshold))) if threshold.isdigit() else None
        if alert is None:
            return outbox.Rendered(text="(budget warning no longer available)", blocks=[])
        config = segments.config
        view = BudgetAlertView(
            alert=alert,
            budget=config.x_budget,
            admins=list(config.admins),
            now=month_spend(session, config, alert.raised_at),
        )
        return outbox.Rendered(text=fallback_text(view), blocks=build_budget_alert(view))

    return render
