"""When a mention waiting for its first response nags next. Pure: the caller passes the tweet's
time, the segment's plan (target, repeat interval, quiet hours, time zone), the last step taken
and the time now.

The steps, from the tweet's own time T0 and the target T:
- WARN at T0 + T/2: the card shows a warning (a redraw, no notification: quiet hours don't hold it);
- REMIND at T0 + T: a message in the card's thread to whoever owns the mention;
- ESCALATE at T0 + 2T: the same, to the segment's approvers too;
- REPEAT every `remind_every` after the last escalation or repeat, until someone acknowledges
  or answers (the caller stops asking then).

A message step that falls inside quiet hours waits until they end. Steps missed (a quiet night,
a process that was down) collapse into the latest one due: one message, never a burst.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from policies.config.schema import WEEKDAYS, QuietHours


class Step(StrEnum):
    WARN = "warn"
    REMIND = "remind"
    ESCALATE = "escalate"
    REPEAT = "repeat"


ORDER = (Step.WARN, Step.REMIND, Step.ESCALATE, Step.REPEAT)
MESSAGES = frozenset({Step.REMIND, Step.ESCALATE, Step.REPEAT})  # those quiet hours hold


@dataclass(frozen=True)
class Plan:
    """A segment's settings, as one mention's timer uses them."""

    target_minutes: int
    remind_every_minutes: int
    quiet_hours: QuietHours | None = None
    time_zone: str = "UTC"

    @property
    def key(self) -> str:
        """Stands for these settings: a timer planned under another key is planned again."""
        quiet = self.quiet_hours
        hours = f"{quiet.start}-{quiet.end}/{','.join(quiet.days)}" if quiet else "-"
        return f"{self.target_minutes}/{self.remind_every_minutes}/{hours}/{self.time_zone}"[:200]


@dataclass(frozen=True)
class Due:
    step: Step
    at: datetime  # when it fires: its own time, or the end of the quiet hours it falls in


def next_due(
    *,
    tweeted_at: datetime,
    plan: Plan,
    last: Step | None,
    last_sent_at: datetime | None,
    now: datetime,
) -> Due | None:
    """The step to take next and when: the latest step already due at `now` (earlier missed ones
    collapse into it), else the first one still to come. None: nothing more, ever (quiet hours
    that never end). A time without a zone is UTC (SQLite hands them back so)."""
    tweeted_at, now = as_utc(tweeted_at), as_utc(now)
    last_sent_at = as_utc(last_sent_at) if last_sent_at is not None else None
    candidates = list(_candidates(tweeted_at, plan, last, last_sent_at))
    timed: list[Due] = []
    for step, nominal in candidates:
        at = nominal if step not in MESSAGES else quiet_until(nominal, plan)
        if at is None:
            continue
        timed.append(Due(step, at))
    if not timed:
        return None
    ready = [d for d in timed if d.at <= now]
    return ready[-1] if ready else min(timed, key=lambda d: d.at)


def _candidates(
    t0: datetime, plan: Plan, last: Step | None, last_sent_at: datetime | None
) -> Iterable[tuple[Step, datetime]]:
    target = timedelta(minutes=plan.target_minutes)
    if last in (Step.ESCALATE, Step.REPEAT):
        since = last_sent_at or t0 + 2 * target
        yield Step.REPEAT, since + timedelta(minutes=plan.remind_every_minutes)
        return
    nominal = {Step.WARN: t0 + target / 2, Step.REMIND: t0 + target, Step.ESCALATE: t0 + 2 * target}
    after = ORDER.index(last) + 1 if last is not None else 0
    for step in ORDER[after:3]:
        yield step, nominal[step]


def as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def quiet_until(at: datetime, plan: Plan) -> datetime | None:
    """`at`, or when the quiet hours it falls in end (chained: back-to-back quiet periods end at
    the last one's end). None when they never end (every hour of the week is quiet)."""
    quiet = plan.quiet_hours
    if quiet is None:
        return at
    zone = ZoneInfo(plan.time_zone)
    moment = as_utc(at)
    for _ in range(8):  # at most one period starts each day: a week of them never ends
        end = _quiet_end(moment, quiet, zone)
        if end is None:
            return moment
        moment = end
    return None


def _quiet_end(moment: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime | None:
    """The end (UTC) of the quiet period `moment` (UTC) is in, if any. A period starts on each
    listed day at `start` and runs to the next `end`: the next day's when `end` is not later
    than `start` (20:00-08:00 spans midnight; 00:00-00:00 is the whole day)."""
    local_day = moment.astimezone(zone).date()
    start, end = _clock(quiet.start), _clock(quiet.end)
    for day in (local_day - timedelta(days=1), local_day):
        if WEEKDAYS[day.weekday()] not in quiet.days:
            continue
        begins = _utc(day, start, zone)
        ends = _utc(day + timedelta(days=1) if end <= start else day, end, zone)
        if begins <= moment < ends:
            return ends
    return None


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a day in `zone`, as UTC (compared in UTC: Python compares two times
    of one zone by their wall clocks, which DST makes wrong)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
