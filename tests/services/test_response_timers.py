"""ResponseTimers on a real database (SQLite, or PostgreSQL with BRANDBOT_TEST_DATABASE_URL): a
native reply on X stops the nagging, quiet hours hold a reminder until the morning (one message,
not a burst), a target an admin changes re-plans waiting timers, and two processes running the
pass at once never both remind."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import col
from support import TEST_CONFIG

from bot.core import audit
from bot.core.clock import FakeClock
from bot.core.db import make_engine, transaction
from bot.core.models import Mention, MentionReminder, MentionState, ResponseTimer
from bot.fakes.services import ServiceKit, build_services
from bot.mentions.timers import arm
from policies.response_schedule import as_utc

MakeKit = Callable[..., ServiceKit]
EVENING = datetime(2026, 12, 2, 19, 50, tzinfo=UTC)  # a Wednesday; London is on GMT (= UTC)


def _ingest(kit: ServiceKit, text: str = "@acme my refund never came", **tweet: object) -> str:
    """A tweet on the fake X, polled (its card and timer made at ingest), the card posted."""
    posted = kit.x.add_tweet(author="dana", text=text, created_at=kit.clock.now(), **tweet)  # type: ignore[arg-type]
    assert isinstance(kit.clock, FakeClock)
    kit.clock.advance(seconds=kit.config.poll_seconds)
    kit.ingestor.poll_due()
    kit.deliver()
    return str(posted["id"])


def _tick(kit: ServiceKit, **delta: float) -> None:
    assert isinstance(kit.clock, FakeClock)
    kit.clock.advance(**delta)
    kit.timers.run_due()
    kit.deliver()


def _reminders(engine: Engine, mention_id: str) -> list[MentionReminder]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(MentionReminder)
                .where(col(MentionReminder.mention_id) == mention_id)
                .order_by(col(MentionReminder.id))
            )
        )


def _timer(engine: Engine, mention_id: str) -> ResponseTimer:
    with transaction(engine) as session:
        timer = session.get(ResponseTimer, mention_id)
        assert timer is not None
        return timer


def test_every_ingested_mention_gets_a_timer_due_at_half_its_target(kit: ServiceKit) -> None:
    mention_id = _ingest(kit)
    timer = _timer(kit.engine, mention_id)
    tweeted = kit.mention(mention_id).tweeted_at
    assert timer.step == "warn"
    assert timer.due_at == tweeted + timedelta(minutes=7.5)  # half of customer relations' 15
    _tick(kit, minutes=8)  # warned
    again = {"id": mention_id, "segment": "customer_relations", "tweeted_at": tweeted}
    with transaction(kit.engine) as session:  # the same tweet stored again (overlapping polls)
        arm(session, [again], config=kit.config, now=kit.clock.now())
    assert _timer(kit.engine, mention_id).last_step == "warn"  # untouched
    with transaction(kit.engine) as session:
        assert session.scalar(select(func.count()).select_from(ResponseTimer)) == 1


def test_a_reply_posted_natively_on_x_stops_the_reminders(kit: ServiceKit) -> None:
    mention_id = _ingest(kit)
    _tick(kit, minutes=15)
    assert [r.step for r in _reminders(kit.engine, mention_id)] == ["remind"]
    _answer_natively(kit, mention_id)
    _tick(kit, minutes=20)
    assert [r.step for r in _reminders(kit.engine, mention_id)] == ["remind"]  # no escalation
    assert _timer(kit.engine, mention_id).stopped == "answered"
    assert kit.audit("mention.escalated") == []


def test_a_follow_up_that_reopens_an_answered_conversation_has_a_timer_of_its_own(
    kit: ServiceKit,
) -> None:
    first = _ingest(kit)
    _answer_natively(kit, first)
    _tick(kit, minutes=30)
    follow_up = _ingest(kit, "@acme it broke again", conversation_id=first, in_reply_to=first)
    assert kit.mention(follow_up).follow_up_of == first
    _tick(kit, minutes=15)
    assert [r.step for r in _reminders(kit.engine, follow_up)] == ["remind"]
    assert _reminders(kit.engine, first) == []


def _answer_natively(kit: ServiceKit, mention_id: str) -> None:
    """What the own-timeline reader records when it finds our reply posted straight on X."""
    with transaction(kit.engine) as session:
        session.execute(
            update(Mention)
            .where(col(Mention.id) == mention_id)
            .values(
                replied_at=kit.clock.now(),
                replied_via="x",
                reply_tweet_id="1799999999999999999",
                state=MentionState.REPLIED,
                version=col(Mention.version) + 1,
            )
        )


def test_a_mention_resolved_without_a_reply_is_not_nagged_about(kit: ServiceKit) -> None:
    mention_id = _ingest(kit)
    kit.mentions.resolve(kit.on_mention("U0BOB", kit.mention(mention_id)))
    _tick(kit, hours=2)
    assert _reminders(kit.engine, mention_id) == []
    assert _timer(kit.engine, mention_id).stopped == "closed"


QUIET = TEST_CONFIG.replace(
    "    first_response_minutes: 15\n",
    '    first_response_minutes: 15\n    quiet_hours: {start: "20:00", end: "08:00"}\n',
    1,
).replace("routing:\n", "time_zone: Europe/London\nrouting:\n", 1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=EVENING)


def test_quiet_hours_hold_the_reminder_until_morning_then_one_escalation_goes(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(QUIET)
    mention_id = _ingest(kit)  # tweeted 19:50, ten minutes before the team's night
    _tick(kit, minutes=8)
    assert _timer(kit.engine, mention_id).last_step == "warn"  # the card warns: not a ping
    _tick(kit, minutes=10)  # 20:08: the target passed at 20:05, inside quiet hours
    assert _reminders(kit.engine, mention_id) == []
    held = _timer(kit.engine, mention_id).due_at
    assert held is not None and as_utc(held) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    for _ in range(12):  # the night passes, the pass keeps running
        _tick(kit, hours=1)
    assert kit.clock.now() > datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    # One message in the morning — the escalation (it names the owner too) — not a burst.
    reminders = _reminders(kit.engine, mention_id)
    assert [r.step for r in reminders] == ["escalate"]
    assert json.loads(reminders[0].notified) == ["here", "S0CARE"]


def test_an_admin_raising_the_target_moves_a_waiting_reminder(kit: ServiceKit) -> None:
    mention_id = _ingest(kit)
    _tick(kit, minutes=8)  # warned on the 15-minute target
    admin = kit.person("U0ADMIN")
    kit.steering.set_response_target(admin, "customer_relations", 60, where="C0OPS")
    _tick(kit, minutes=10)  # minute 18: past the old target, well within the new one
    assert _reminders(kit.engine, mention_id) == []
    assert _timer(kit.engine, mention_id).due_at == kit.mention(mention_id).tweeted_at + timedelta(
        minutes=60
    )
    _tick(kit, minutes=43)
    assert [r.step for r in _reminders(kit.engine, mention_id)] == ["remind"]
    assert reminders_target(kit.engine, mention_id) == 60


def reminders_target(engine: Engine, mention_id: str) -> int:
    return _reminders(engine, mention_id)[-1].target_minutes


def test_two_processes_running_the_pass_at_once_remind_once(
    make_kit: MakeKit, database_url: str
) -> None:
    first = make_kit()
    ids = [_ingest(first, f"@acme refund {n} please") for n in range(12)]
    # A second process: its own engine (connections), services and fakes, the same database.
    other_engine = make_engine(database_url)
    audit.use_key(other_engine, audit.key_for(first.engine))
    second = build_services(first.config, engine=other_engine, clock=first.clock, fakes=first.fakes)
    try:
        assert isinstance(first.clock, FakeClock)
        first.clock.advance(minutes=15)
        errors: list[BaseException] = []
        for _ in range(3):  # a few rounds: every due step is taken, by one of the two
            start = threading.Barrier(2)

            def run(kit: ServiceKit, start: threading.Barrier = start) -> None:
                try:
                    start.wait()
                    kit.timers.run_due()
                except BaseException as exc:  # surfaced below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(k,)) for k in (first, second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert errors == []
        for mention_id in ids:
            assert [r.step for r in _reminders(first.engine, mention_id)] == ["remind"]
        assert len(first.audit("mention.reminded")) == len(ids)
        first.deliver()
        posted = [m for m in first.slack.messages["C0CUSTOMER"] if "response target" in m["text"]]
        assert len(posted) == len(ids)
    finally:
        other_engine.dispose()


def test_a_mention_rerouted_to_a_stricter_segment_is_reminded_on_its_target(
    kit: ServiceKit,
) -> None:
    mention_id = _ingest(kit)  # customer relations: 15 minutes
    _tick(kit, minutes=3)
    kit.mentions.reroute(
        kit.on_mention("U0ADMIN", kit.mention(mention_id)), to_segment="crisis_management"
    )
    kit.deliver()
    _tick(kit, minutes=2)  # re-planned on crisis management's 10 minutes
    _tick(kit, minutes=5)
    reminders = _reminders(kit.engine, mention_id)
    assert [(r.step, r.target_minutes) for r in reminders] == [("remind", 10)]
    assert json.loads(reminders[0].notified) == ["S0CRISIS"]  # its responders
    [message] = kit.messages("response_reminder")
    assert message.channel == "C0CRISIS"  # in the thread of its live card, where it is now


def test_acknowledging_an_answered_mention_says_so_and_drops_the_stale_button(
    kit: ServiceKit,
) -> None:
    mention_id = _ingest(kit)
    _tick(kit, minutes=15)
    [message] = kit.messages("response_reminder")
    _answer_natively(kit, mention_id)  # before the timer next comes due
    note = kit.timers.acknowledge(kit.click("U0BOB", message, mention_id))
    assert note == "It is already answered: there is nothing to acknowledge."
    kit.deliver()
    shown = json.dumps(kit.slack.message(message.channel, str(message.ts))["blocks"])
    assert "mention_acknowledge" not in shown and "answered" in shown
    assert kit.audit("mention.acknowledged") == []
