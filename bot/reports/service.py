"""Reports on demand: `brandbot report` (open_report) and `/brand report` (ReportService)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, make_url

from bot.core.context import ServiceContext
from bot.core.db import make_engine, normalise_url
from bot.core.guard import Checkpoint
from bot.core.segments import SegmentCatalog
from bot.reports.figures import Report, build_report
from bot.reports.rendering import to_mrkdwn
from bot.slack.clicks import Person
from policies.config import BrandConfig
from policies.permissions import may_see_report
from policies.report_period import Period, Window, window


class NoDatabase(Exception):
    """There is nothing to report from: the database (or its tables) does not exist yet."""


REPORT_USAGE = "Usage: `/brand report [day|week]`: yesterday's figures, or last week's."


def open_report(config: BrandConfig, database_url: str, win: Window) -> Report:
    """The report from the database at `database_url`, against app.yaml with the overrides
    admins set from Slack (their response targets count). NoDatabase if there is nothing to
    read."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise NoDatabase(
            f"no database at {url.database}: `brandbot run` or `brandbot db upgrade` creates it"
        )
    engine = make_engine(database_url)
    try:
        if not inspect(engine).has_table("mention"):
            raise NoDatabase("the database has no brandbot tables yet: run `brandbot db upgrade`")
        catalog = SegmentCatalog(config, engine=engine)
        catalog.refresh(force=True)
        return build_report(engine, catalog.config, win)
    finally:
        engine.dispose()


class ReportService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def build(self, period: Period, *, since: str | None = None) -> Report:
        config = self._ctx.segments.config
        win = window(period, self._ctx.clock.now(), config.time_zone, since)
        return build_report(self._ctx.engine, config, win)

    def summary(self, *, person: Person, text: str, channel: str) -> str:
        """`/brand report [day|week]`: the last complete day or week, for the caller's eyes."""
        words = text.split()
        if len(words) > 1 or (words and words[0].lower() not in ("day", "week")):
            return REPORT_USAGE
        period: Period = "week" if words and words[0].lower() == "week" else "day"
        checkpoint = Checkpoint(self._ctx, person, channel, "report", "report", "view")
        config = self._ctx.segments.config
        team_channels = {s.channel for s in config.segments.values()}
        if config.digest is not None:
            team_channels.add(config.digest.channel)
        in_team_channel = channel in team_channels
        # Admin rights are asked of Slack only when the channel alone does not decide.
        is_admin = not in_team_channel and checkpoint.is_admin()
        checkpoint.require(may_see_report(is_admin=is_admin, in_team_channel=in_team_channel))
        return to_mrkdwn(self.build(period))
