"""When a waiting mention nags next (policies/response_schedule.py): warn at half the target,
remind at it, escalate at twice it, repeat every `remind_every`; quiet hours hold messages (not
the warning) until they end, missed steps collapse into one, in the team's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.config.schema import QuietHours
from policies.response_schedule import Due, Plan, Step, next_due, quiet_until

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday
PLAIN = Plan(target_minutes=30, remind_every_minutes=20)


def at(minutes: float, start: datetime = T0) -> datetime:
    return start + timedelta(minutes=minutes)


CASES = [
    # last step, last sent (min), now (min), expected (step, at min)
    (None, None, 0, (Step.WARN, 15)),
    (None, None, 15, (Step.WARN, 15)),
    (Step.WARN, None, 15, (Step.REMIND, 30)),
    (Step.REMIND, 30, 30, (Step.ESCALATE, 60)),
    (Step.ESCALATE, 60, 60, (Step.REPEAT, 80)),
    (Step.REPEAT, 80, 80, (Step.REPEAT, 100)),
    # missed steps collapse into the latest one due: one message, not a burst
    (None, None, 45, (Step.REMIND, 30)),
    (None, None, 600, (Step.ESCALATE, 60)),
    (Step.WARN, None, 61, (Step.ESCALATE, 60)),
    # a repeat counts from when the last message really went out (a late one moves it on)
    (Step.REPEAT, 300, 301, (Step.REPEAT, 320)),
    (Step.ESCALATE, 60, 500, (Step.REPEAT, 80)),
]


@pytest.mark.parametrize(("last", "sent", "now", "expected"), CASES)
def test_the_next_step_without_quiet_hours(
    last: Step | None, sent: float | None, now: float, expected: tuple[Step, float]
) -> None:
    due = next_due(
        tweeted_at=T0,
        plan=PLAIN,
        last=last,
        last_sent_at=at(sent) if sent is not None else None,
        now=at(now),
    )
    assert due == Due(expected[0], at(expected[1]))


NIGHTS = QuietHours(start="20:00", end="08:00")  # every day, spanning midnight
WEEKEND = QuietHours(start="00:00", end="00:00", days=["sat", "sun"])  # whole days
FRIDAY_NIGHT = QuietHours(start="22:00", end="07:00", days=["fri"])

QUIET_CASES = [
    # quiet hours, moment (UTC), when a message may go
    (NIGHTS, datetime(2026, 12, 2, 19, 59, tzinfo=UTC), datetime(2026, 12, 2, 19, 59, tzinfo=UTC)),
    (NIGHTS, datetime(2026, 12, 2, 20, 0, tzinfo=UTC), datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
    (NIGHTS, datetime(2026, 12, 3, 3, 0, tzinfo=UTC), datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
    (NIGHTS, datetime(2026, 12, 3, 8, 0, tzinfo=UTC), datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
    # a whole weekend: Saturday and Sunday chain into one wait until Monday 00:00
    (WEEKEND, datetime(2026, 12, 5, 9, 0, tzinfo=UTC), datetime(2026, 12, 7, 0, 0, tzinfo=UTC)),
    (WEEKEND, datetime(2026, 12, 4, 23, 59, tzinfo=UTC), datetime(2026, 12, 4, 23, 59, tzinfo=UTC)),
    # days name the day a period starts: Friday's night runs into Saturday morning...
    (
        FRIDAY_NIGHT,
        datetime(2026, 12, 5, 3, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 7, 0, tzinfo=UTC),
    ),
    # ...and Thursday's night is not quiet
    (
        FRIDAY_NIGHT,
        datetime(2026, 12, 4, 3, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 3, 0, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(("quiet", "moment", "expected"), QUIET_CASES)
def test_quiet_hours_hold_a_message_until_they_end(
    quiet: QuietHours, moment: datetime, expected: datetime
) -> None:
    assert quiet_until(moment, Plan(30, 20, quiet, "UTC")) == expected


def test_quiet_hours_are_in_the_team_time_zone_across_a_dst_change() -> None:
    london = Plan(30, 20, QuietHours(start="20:00", end="08:00"), "Europe/London")
    # Summer: 08:00 in London is 07:00 UTC. The night of 24-25 Oct 2026 the clocks go back
    # (BST → GMT, on Sunday 25 Oct): that morning's 08:00 is 08:00 UTC, and the night is an hour
    # longer.
    summer = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    assert quiet_until(summer, london) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    # 19:30 UTC on Saturday 24 Oct is 20:30 BST: quiet until Sunday's 08:00 GMT.
    autumn = datetime(2026, 10, 24, 19, 30, tzinfo=UTC)
    assert quiet_until(autumn, london) == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    # Spring: on 29 Mar 2026 the clocks go forward; Sunday's 08:00 BST is 07:00 UTC.
    spring = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert quiet_until(spring, london) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    # and 20:00 UTC on a winter evening is 20:00 GMT: quiet
    assert quiet_until(datetime(2026, 12, 2, 20, 0, tzinfo=UTC), london) == datetime(
        2026, 12, 3, 8, 0, tzinfo=UTC
    )


def test_a_reminder_due_at_night_waits_for_the_morning_and_then_one_escalation_goes() -> None:
    night = Plan(30, 20, NIGHTS, "UTC")
    t0 = datetime(2026, 12, 2, 19, 50, tzinfo=UTC)
    # the warning is a redraw of the card, not a ping: it does not wait
    assert next_due(tweeted_at=t0, plan=night, last=None, last_sent_at=None, now=t0) == Due(
        Step.WARN, t0 + timedelta(minutes=15)
    )
    morning = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    after_warning = next_due(
        tweeted_at=t0, plan=night, last=Step.WARN, last_sent_at=None, now=t0 + timedelta(minutes=15)
    )
    assert after_warning == Due(Step.REMIND, morning)
    # in the morning both the reminder and the escalation are due: only the escalation goes
    assert next_due(
        tweeted_at=t0, plan=night, last=Step.WARN, last_sent_at=None, now=morning
    ) == Due(Step.ESCALATE, morning)


def test_a_changed_target_plans_from_the_tweet_time_again() -> None:
    """An admin lowers the target from 60 to 15 minutes at minute 20: the reminder is due at
    once; raises it from 15 to 60 after the reminder: the escalation moves to minute 120."""
    lowered = next_due(tweeted_at=T0, plan=Plan(15, 30), last=None, last_sent_at=None, now=at(20))
    assert lowered == Due(Step.REMIND, at(15))
    raised = next_due(
        tweeted_at=T0, plan=Plan(60, 30), last=Step.REMIND, last_sent_at=at(15), now=at(20)
    )
    assert raised == Due(Step.ESCALATE, at(120))


def test_quiet_hours_that_never_end_mean_no_messages_at_all() -> None:
    always = QuietHours(start="00:00", end="00:00")  # every day, all day
    plan = Plan(30, 20, always, "UTC")
    assert quiet_until(T0, plan) is None
    assert next_due(tweeted_at=T0, plan=plan, last=Step.WARN, last_sent_at=None, now=T0) is None


def test_a_time_without_a_zone_is_utc() -> None:
    naive = T0.replace(tzinfo=None)
    assert next_due(tweeted_at=naive, plan=PLAIN, last=None, last_sent_at=None, now=T0) == Due(
        Step.WARN, at(15)
    )


def test_the_plan_key_changes_with_every_setting() -> None:
    keys = {
        Plan(30, 20).key,
        Plan(31, 20).key,
        Plan(30, 21).key,
        Plan(30, 20, NIGHTS).key,
        Plan(30, 20, NIGHTS, "Europe/London").key,
        Plan(30, 20, WEEKEND).key,
    }
    assert len(keys) == 6
