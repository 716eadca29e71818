"""The spike detector's rules (policies/spike.py): baseline math, when it fires, when it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.spike import (
    SMOOTHING,
    Baseline,
    Counts,
    Levels,
    Span,
    Storm,
    Thresholds,
    Verdict,
    baseline,
    baseline_spans,
    decide,
    firing_levels,
    recent_span,
    usable,
    window_span,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DEFAULT = Thresholds()  # window 10 min, 7 days, factor 4, floors 10 negative / 40 mentions
SPAN_WINDOWS = (DEFAULT.window + 2 * SMOOTHING) / DEFAULT.window  # 7 windows per smoothed day

BASELINE_CASES = [
    # per-day counts (negative, mentions) over each smoothed 70-minute span → per-window mean
    ([], Baseline(0.0, 0.0, 0)),  # a new install: no day of history
    ([(7, 70)], Baseline(1.0, 10.0, 1)),
    ([(7, 70), (0, 0)], Baseline(0.5, 5.0, 2)),  # a quiet day inside the history counts as zero
    ([(14, 140)] * 7, Baseline(2.0, 20.0, 7)),
]


@pytest.mark.parametrize(("days", "expected"), BASELINE_CASES)
def test_baseline_is_the_mean_per_window(days: list[tuple[int, int]], expected: Baseline) -> None:
    assert baseline([Counts(n, m) for n, m in days], DEFAULT) == expected


def test_a_new_install_compares_with_the_hours_before() -> None:
    # no previous day usable: the two hours before the window (12 windows) set the baseline
    assert baseline([], DEFAULT, recent=Counts(24, 240)) == Baseline(2.0, 20.0, 0, recent=True)
    # a usable day wins over the recent hours
    assert baseline([Counts(7, 70)], DEFAULT, recent=Counts(24, 240)).days == 1
    assert recent_span(NOW, DEFAULT) == Span(
        NOW - timedelta(hours=2, minutes=10), NOW - timedelta(minutes=10)
    )


LEVEL_CASES = [
    # baseline (negative, mentions) per window → firing levels: factor times baseline, at least the floor
    ((0.0, 0.0), (10.0, 40.0)),  # no history: the floors
    ((1.0, 5.0), (10.0, 40.0)),  # a quiet account: 4 and 20 are under the floors
    ((5.0, 30.0), (20.0, 120.0)),  # a busy hour: four times normal
]


@pytest.mark.parametrize(("base", "levels"), LEVEL_CASES)
def test_firing_levels(base: tuple[float, float], levels: tuple[float, float]) -> None:
    got = firing_levels(Baseline(*base, days=7), DEFAULT)
    assert (got.negative, got.mentions) == levels


BUSY = Baseline(5.0, 30.0, 7)  # fires at 20 negative or 120 mentions; rages above 10 or 60
STARTED = NOW - timedelta(minutes=40)

DECISION_CASES = [
    # counts, baseline, open storm (minutes since it was last hot), verdict, trigger
    ((9, 39), Baseline(0, 0, 0), None, Verdict.QUIET, ""),  # a new install under the floors
    ((10, 12), Baseline(0, 0, 0), None, Verdict.FIRE, "negative"),  # the negative floor
    ((2, 40), Baseline(0, 0, 0), None, Verdict.FIRE, "volume"),  # the volume floor
    ((19, 119), BUSY, None, Verdict.QUIET, ""),  # just under four times normal
    ((20, 60), BUSY, None, Verdict.FIRE, "negative"),
    ((3, 120), BUSY, None, Verdict.FIRE, "volume"),  # a launch going viral: volume alone
    ((25, 130), BUSY, None, Verdict.FIRE, "negative and volume"),
    ((30, 100), BUSY, 0, Verdict.RAGING, ""),  # already alerted: never a second FIRE
    ((10, 20), BUSY, 25, Verdict.RAGING, ""),  # half the negative level keeps it raging
    ((3, 60), BUSY, 25, Verdict.RAGING, ""),  # so does half the volume level
    ((9, 59), BUSY, 5, Verdict.CALMING, ""),  # below half, but only for 5 minutes
    ((9, 59), BUSY, 29, Verdict.CALMING, ""),
    ((9, 59), BUSY, 30, Verdict.ENDED, ""),  # three windows below half: over
]


def test_a_storm_is_judged_against_the_levels_it_fired_at_too() -> None:
    # fired at 20 negative / 120 mentions; now (no baseline: floors 10/40) 15 negative and 50
    # mentions would be "hot" against the floors alone, not against half of what it fired at
    fired = Levels(negative=40.0, mentions=240.0)
    storm = Storm(STARTED, NOW - timedelta(minutes=30), fired)
    quiet_now = Counts(15, 50)
    decision = decide(
        now=NOW, counts=quiet_now, base=Baseline(0, 0, 0), thresholds=DEFAULT, storm=storm
    )
    assert decision.verdict == Verdict.ENDED
    hot = decide(
        now=NOW, counts=Counts(21, 50), base=Baseline(0, 0, 0), thresholds=DEFAULT, storm=storm
    )
    assert hot.verdict == Verdict.RAGING


@pytest.mark.parametrize(("counts", "base", "calm_for", "verdict", "trigger"), DECISION_CASES)
def test_decide(
    counts: tuple[int, int],
    base: Baseline,
    calm_for: int | None,
    verdict: Verdict,
    trigger: str,
) -> None:
    storm = None
    if calm_for is not None:
        storm = Storm(started_at=STARTED, last_hot_at=NOW - timedelta(minutes=calm_for))
    decision = decide(now=NOW, counts=Counts(*counts), base=base, thresholds=DEFAULT, storm=storm)
    assert (decision.verdict, decision.trigger) == (verdict, trigger)


def test_the_window_is_the_last_ten_minutes() -> None:
    span = window_span(NOW, DEFAULT)
    assert span.start == NOW - timedelta(minutes=10)
    assert span.end > NOW  # a tweet stamped this very second counts


def test_baseline_days_are_the_same_time_smoothed_half_an_hour_each_side() -> None:
    spans = baseline_spans(NOW, DEFAULT, "UTC")
    assert len(spans) == 7
    assert spans[0] == Span(
        datetime(2026, 11, 22, 11, 20, tzinfo=UTC), datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
    )
    assert spans[6].end == datetime(2026, 11, 16, 12, 30, tzinfo=UTC)


def test_baseline_days_keep_the_local_hour_across_a_clock_change() -> None:
    # Sunday 29 March 2026 London moved to summer time: Monday 12:00 BST is 11:00 UTC, and
    # "the same hour" on the Saturday before is 12:00 GMT, which is 12:00 UTC.
    monday = datetime(2026, 3, 30, 11, 0, tzinfo=UTC)
    spans = baseline_spans(monday, Thresholds(baseline_days=2), "Europe/London")
    assert [s.end.astimezone(UTC) for s in spans] == [
        datetime(2026, 3, 29, 11, 30, tzinfo=UTC),  # Sunday 12:30 BST
        datetime(2026, 3, 28, 12, 30, tzinfo=UTC),  # Saturday 12:30 GMT
    ]


USABLE_CASES = [
    # history starts (hours before NOW), storms (start, end in hours before NOW), usable?
    (None, [], False),  # nothing ever seen for this account
    (48, [], True),  # yesterday's span is inside the history
    (24, [], False),  # the span starts 24h40m ago: before the history began
    (48, [(24.5, 23.0)], False),  # a storm raged at that time yesterday
    (48, [(24.5, None)], False),  # one still open (it overlaps everything after it)
    (48, [(30.0, 28.0)], True),  # yesterday's other storm was earlier in the day
]


@pytest.mark.parametrize(("history", "storms", "expected"), USABLE_CASES)
def test_which_days_feed_the_baseline(
    history: float | None, storms: list[tuple[float, float | None]], expected: bool
) -> None:
    yesterday = baseline_spans(NOW, DEFAULT, "UTC")[0]
    ago = lambda hours: NOW - timedelta(hours=hours)  # noqa: E731
    history_from = ago(history) if history is not None else None
    spans = [
        Span(ago(s), ago(e) if e is not None else datetime.max.replace(tzinfo=UTC))
        for s, e in storms
    ]
    assert usable(yesterday, history_from=history_from, storms=spans) is expected
