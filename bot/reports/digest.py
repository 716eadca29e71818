"""The digest: the report's summary and chart posted to `digest.channel` once per period.

Once per period, across restarts and processes: whichever process first sees a period due
inserts its `report_digest` row (insert-ignore on (period, period_start)); one process leases
it and uploads. The upload is Slack's external flow, three calls (files.getUploadURLExternal,
the bytes POSTed to the URL it gave, files.completeUploadExternal with the channel), made by
slack-sdk's `files_upload_v2`. Only the last call shares the file, so a failure before it leaves
nothing in the channel (Slack drops an upload never completed) and the next attempt starts over.
If the last call's answer is lost, it may have shared the file: so before any attempt after the
first, the channel's newest messages are searched for the file's title (unique to the row), and
a digest found there is recorded as posted instead of uploaded again.

Runs in its own worker thread: never in the publisher's (posts must not wait on an upload) and
not through the outbox (an upload is no chat.postMessage).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from sqlalchemy import or_, update
from sqlmodel import col, select

from bot.core.context import OnContext, ServiceContext
from bot.core.db import insert_ignoring_conflicts, rowcount, skip_locked, table_of, transaction
from bot.core.models import ReportDigest
from bot.core.retry import backoff, describe_failure, retry_after
from bot.core.worker import Worker
from bot.reports.chart import render_png
from bot.reports.figures import build_report
from bot.reports.rendering import to_mrkdwn
from policies.config import DigestSettings
from policies.report_period import Period, Window, period_start, step

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
POSTED = "posted"
# A digest missed by more than this (the app was down) is skipped, not posted late: a
# yesterday's digest at 17:00 misleads more than it helps; `brandbot report` has it on demand.
GRACE: dict[str, timedelta] = {
    "hour": timedelta(minutes=30),
    "day": timedelta(hours=6),
    "week": timedelta(days=1),
}
SEARCHED_MESSAGES = 200  # the digest channel's newest messages searched after a lost answer
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def due_period(digest: DigestSettings, now: datetime, time_zone: str) -> Window | None:
    """The period whose digest is due at `now` (within its grace), or None."""
    period: Period = digest.every
    current = period_start(period, now, time_zone)
    due_at = current
    if period != "hour":
        tz = ZoneInfo(time_zone)
        start_local = current.astimezone(tz)
        days = _WEEKDAYS.index(digest.weekday) if period == "week" else 0
        hour, minute = (int(p) for p in digest.at.split(":"))
        wall = start_local.replace(tzinfo=None) + timedelta(days=days)
        due_at = wall.replace(hour=hour, minute=minute).replace(tzinfo=tz).astimezone(now.tzinfo)
    if not (due_at <= now < due_at + GRACE[period]):
        return None
    previous = step(period, current, time_zone, -1)
    return Window(previous, current, period, time_zone, complete=True)


def file_title(digest: ReportDigest) -> str:
    """Unique to the row: what a later attempt looks for in the channel."""
    return f"brandbot {digest.period} report {digest.period_start:%Y-%m-%d %H:%M} UTC #{digest.id}"


@dataclass(kw_only=True)
class DigestWorker(Worker, OnContext):
    ctx: ServiceContext
    client: WebClient  # no hidden retries: a failure waits in report_digest
    owner: str
    idle_seconds: float = 20.0

    def work(self) -> int:
        config = self.ctx.segments.config
        if config.digest is None:
            return 0
        now = self.clock.now()
        win = due_period(config.digest, now, config.time_zone)
        if win is not None:
            self._insert(win, config.digest.channel, now)
        leased = self._lease(now)
        if leased is None:
            return 0
        self._deliver(leased)
        return 1

    def _insert(self, win: Window, channel: str, now: datetime) -> None:
        row = {
            "period": win.period,
            "period_start": win.start,
            "period_end": win.end,
            "channel": channel,
            "state": "pending",
            "due_at": now,
            "attempts": 0,
            "created_at": now,
        }
        with transaction(self.engine) as session:
            session.execute(insert_ignoring_conflicts(self.engine, table_of(ReportDigest)), [row])

    def _lease(self, now: datetime) -> ReportDigest | None:
        """One pending digest, due now, that no other worker holds (a conditional UPDATE)."""
        with transaction(self.engine) as session:
            candidate = session.exec(
                skip_locked(  # one another replica is taking: skip it, don't wait for it
                    select(ReportDigest)
                    .where(col(ReportDigest.state) == "pending", col(ReportDigest.due_at) <= now)
                    .where(
                        or_(
                            col(ReportDigest.lease_until).is_(None),
                            col(ReportDigest.lease_until) < now,
                        )
                    )
                    .order_by(col(ReportDigest.id))
                    .limit(1),
                    self.engine,
                )
            ).first()
            if candidate is None:
                return None
            taken = session.execute(
                update(ReportDigest)
                .where(
                    col(ReportDigest.id) == candidate.id,
                    col(ReportDigest.state) == "pending",
                    or_(
                        col(ReportDigest.lease_until).is_(None),
                        col(ReportDigest.lease_until) < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + LEASE)
            )
            if rowcount(taken) != 1:
                return None  # another process took it first
        with transaction(self.engine) as session:
            return session.get(ReportDigest, candidate.id)

    def _deliver(self, digest: ReportDigest) -> None:
        title = file_title(digest)
        try:
            if digest.attempted_at is not None:
                found = self._already_shared(digest.channel, title)
                if found is not None:
                    self._posted(digest, found)
                    return
            else:
                self._update(digest, attempted_at=self.clock.now())
            config = self.ctx.segments.config
            win = Window(
                digest.period_start,
                digest.period_end,
                _period(digest.period),
                config.time_zone,
                complete=True,
            )
            report = build_report(self.engine, config, win)
            png = render_png(report)
            response = self.client.files_upload_v2(
                content=png,
                filename=f"brandbot-{digest.period}-report-{digest.period_start:%Y%m%d-%H%M}.png",
                title=title,
                channel=digest.channel,
                initial_comment=to_mrkdwn(report),
            )
            files: list[dict[str, Any]] = response.get("files") or []
            self._posted(digest, str(files[0].get("id")) if files else None)
        except (SlackClientError, OSError) as exc:
            self._failed(digest, exc)

    def _already_shared(self, channel: str, title: str) -> str | None:
        """The id of a file with this title among the channel's newest messages, if any."""
        cursor: str | None = None
        seen = 0
        while seen < SEARCHED_MESSAGES:
            page = self.client.conversations_history(channel=channel, limit=100, cursor=cursor)
            messages: list[dict[str, Any]] = page.get("messages") or []
            seen += len(messages)
            for message in messages:
                for file in message.get("files") or []:
                    if file.get("title") == title:
                        return str(file.get("id"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    def _update(self, digest: ReportDigest, **values: Any) -> bool:
        with transaction(self.engine) as session:
            result = session.execute(
                update(ReportDigest)
                .where(
                    col(ReportDigest.id) == digest.id,
                    col(ReportDigest.lease_owner) == self.owner,
                    col(ReportDigest.state) == "pending",
                )
                .values(**values)
            )
            return rowcount(result) == 1

    def _posted(self, digest: ReportDigest, file_id: str | None) -> None:
        self._update(
            digest,
            state=POSTED,
            file_id=file_id,
            posted_at=self.clock.now(),
            lease_owner=None,
            lease_until=None,
            last_error=None,
        )
        log.info("digest %s (%s) posted to %s", digest.id, digest.period, digest.channel)

    def _failed(self, digest: ReportDigest, exc: Exception) -> None:
        error = describe_failure(exc)
        log.warning("digest %s not posted: %s", digest.id, error)
        attempts = digest.attempts + 1
        delay = retry_after(exc) or max(backoff(attempts), timedelta(seconds=30))
        self._update(
            digest,
            attempts=attempts,
            due_at=self.clock.now() + delay,
            lease_owner=None,
            lease_until=None,
            last_error=error,
        )


def _period(value: str) -> Period:
    return "hour" if value == "hour" else "week" if value == "week" else "day"
