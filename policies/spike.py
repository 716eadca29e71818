"""The crisis spike detector: counts in, decision out.

Per account, the last `window_minutes` of mentions (counted by the tweet's own time on X, so a
backfill after an outage spreads over the minutes the tweets were written, not the minute we read
them) are compared with a baseline: the mean per window at the same local time of day on the
previous `baseline_days` days, each day smoothed over ±`SMOOTHING` around that time (one noisy
ten minutes a week ago sets no bar). Days before the account's history began, and days when a
spike was raging at that time, are left out rather than counted as zero or as normal; a quiet
day inside the history counts as zero. With no usable day (a new install) the baseline is the
mean per window over the `RECENT` hours before the window, if our history covers them (the first
poll reads back a day); with neither, it is zero and the floors alone decide.

A spike fires when the negative count reaches `factor` times its baseline and at least
`min_negative`, or the total reaches `factor` times its baseline and at least `min_mentions`. Once
fired it rages while either count is at least half its firing level, and ends once both have
stayed below that for `CALM_WINDOWS` windows (judged against the higher of the levels now and
those it fired at): the alert can't re-fire every poll while the storm
goes on, and a storm tomorrow alerts again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

SMOOTHING = timedelta(minutes=30)  # each baseline day counts the window's time ± this
CALM_WINDOWS = 3  # a storm ends after this many windows below half its firing level
HOT_SHARE = 0.5  # share of the firing level a storm must hold to keep raging
RECENT = timedelta(hours=2)  # a new install's baseline: the hours just before the window


@dataclass(frozen=True)
class Thresholds:
    """`alerts.spike` as the detector reads it (SpikeSettings has the same fields)."""

    window_minutes: int = 10
    baseline_days: int = 7
    factor: float = 4.0
    min_negative: int = 10
    min_mentions: int = 40

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def calm_after(self) -> timedelta:
        return self.window * CALM_WINDOWS


@dataclass(frozen=True)
class Counts:
    negative: int
    mentions: int


@dataclass(frozen=True)
class Span:
    """A stretch of time, [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        return start < self.end and (end is None or end > self.start)


@dataclass(frozen=True)
class Baseline:
    negative: float  # mean negative mentions per window
    mentions: float  # mean mentions per window
    days: int  # how many previous days fed it (0: the recent hours did, or nothing)
    recent: bool = False  # no previous day was usable: the hours before the window fed it


@dataclass(frozen=True)
class Levels:
    """What a count must reach to fire."""

    negative: float
    mentions: float


class Verdict(StrEnum):
    QUIET = "quiet"  # no storm, none starting
    FIRE = "fire"  # a storm starts: alert once
    RAGING = "raging"  # the storm goes on (still at least half its firing level)
    CALMING = "calming"  # below that, not yet for long enough
    ENDED = "ended"  # calm for `calm_after`: the next storm alerts again


@dataclass(frozen=True)
class Storm:
    """A spike already alerted on, as the detector needs to know it."""

    started_at: datetime
    last_hot_at: datetime
    levels: Levels | None = None  # its firing levels when it fired


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    levels: Levels
    trigger: str = ""  # FIRE: "negative", "volume" or "negative and volume"


def window_span(now: datetime, thresholds: Thresholds) -> Span:
    """The window being watched: the last `window_minutes` up to now (a tweet dated a little
    in the future by a skewed clock counts now)."""
    return Span(now - thresholds.window, now + timedelta(seconds=1))


def baseline_spans(now: datetime, thresholds: Thresholds, time_zone: str) -> list[Span]:
    """For each previous day, newest first: the window at the same local time that day, widened
    by SMOOTHING each side. Days step on the wall clock of `time_zone`, so across a change to
    or from summer time "the same hour" is still the hour people keep."""
    local = now.astimezone(ZoneInfo(time_zone))
    spans = []
    for days in range(1, thresholds.baseline_days + 1):
        then = local - timedelta(days=days)  # wall-clock arithmetic on an aware datetime
        spans.append(Span(then - thresholds.window - SMOOTHING, then + SMOOTHING))
    return spans


def usable(span: Span, *, history_from: datetime | None, storms: Iterable[Span]) -> bool:
    """Whether a baseline day tells what normal looks like: our history covers it, and no
    storm was raging in it (a storm is not a normal day; counting it would blunt tomorrow's)."""
    if history_from is None or span.start < history_from:
        return False
    return not any(span.overlaps(s.start, s.end) for s in storms)


def recent_span(now: datetime, thresholds: Thresholds) -> Span:
    """The hours just before the window: a new install's baseline."""
    start = window_span(now, thresholds).start
    return Span(start - RECENT, start)


def baseline(
    days: Sequence[Counts], thresholds: Thresholds, *, recent: Counts | None = None
) -> Baseline:
    """The mean per window over the usable days' smoothed spans; with none, over the recent
    hours (when usable); else zero."""
    if days:
        windows = len(days) * ((thresholds.window + 2 * SMOOTHING) / thresholds.window)
        return Baseline(
            negative=sum(d.negative for d in days) / windows,
            mentions=sum(d.mentions for d in days) / windows,
            days=len(days),
        )
    if recent is not None:
        windows = RECENT / thresholds.window
        return Baseline(recent.negative / windows, recent.mentions / windows, 0, recent=True)
    return Baseline(0.0, 0.0, 0)


def firing_levels(base: Baseline, thresholds: Thresholds) -> Levels:
    return Levels(
        negative=max(float(thresholds.min_negative), thresholds.factor * base.negative),
        mentions=max(float(thresholds.min_mentions), thresholds.factor * base.mentions),
    )


def decide(
    *,
    now: datetime,
    counts: Counts,
    base: Baseline,
    thresholds: Thresholds,
    storm: Storm | None,
) -> Decision:
    """What this pass of the detector means for one account."""
    levels = firing_levels(base, thresholds)
    if storm is None:
        negative = counts.negative >= levels.negative
        volume = counts.mentions >= levels.mentions
        if not (negative or volume):
            return Decision(Verdict.QUIET, levels)
        trigger = " and ".join(n for n, hit in (("negative", negative), ("volume", volume)) if hit)
        return Decision(Verdict.FIRE, levels, trigger)
    # Judged against the higher of today's levels and those it fired at: a storm on a new
    # install (whose recent hours are the storm itself) still ends, and the morning's rise in
    # ordinary traffic does not keep it raging.
    fired = storm.levels or levels
    hot = counts.negative >= HOT_SHARE * max(
        levels.negative, fired.negative
    ) or counts.mentions >= HOT_SHARE * max(levels.mentions, fired.mentions)
    if hot:
        return Decision(Verdict.RAGING, levels)
    if now - storm.last_hot_at >= thresholds.calm_after:
        return Decision(Verdict.ENDED, levels)
    return Decision(Verdict.CALMING, levels)
