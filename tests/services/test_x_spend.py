"""X spend on a real database against the fake X, on the FakeClock: the poller slows down when
a source is quiet and speeds up when tweets flow, honours X's rate-limit headers and 429s without
losing a tweet, and the monthly read budget warns admins once per threshold and, at 100 %, stops
the searches while the mentions go on."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col
from support import TEST_CONFIG

from bot.core.audit import verify
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Mention, PollCursor, XBudgetAlert
from bot.fakes.services import ServiceKit
from bot.mentions.service import MENTION_CARD
from bot.x.budget import BUDGET_ALERT
from bot.x.reads import ReadLedger

MENTIONS = "mentions:acme"
MakeKit = Callable[..., ServiceKit]


def _cursor(kit: ServiceKit, key: str = MENTIONS) -> PollCursor:
    with transaction(kit.engine) as session:
        cursor = session.get(PollCursor, key)
        assert cursor is not None
        return cursor


def _poll_mentions_when_due(kit: ServiceKit, clock: FakeClock) -> timedelta:
    """Advance to the mentions source's next poll, poll, and return the interval it waited."""
    before = clock.now()
    due = _cursor(kit).next_poll_at
    clock.advance(seconds=max((due - before).total_seconds(), 0))
    assert MENTIONS in {r.source for r in kit.ingestor.poll_due()}
    return clock.now() - before


def _mentions_calls(kit: ServiceKit) -> int:
    return len([c for c in kit.x.calls if c.path.endswith("/mentions")])


def test_a_quiet_source_slows_to_poll_quiet_seconds_and_a_mention_brings_it_back(
    kit: ServiceKit, clock: FakeClock
) -> None:
    fast = timedelta(seconds=kit.config.poll_seconds)
    slow = timedelta(seconds=kit.config.poll_quiet_seconds)
    kit.ingestor.poll_due()
    waits = [_poll_mentions_when_due(kit, clock) for _ in range(12)]
    assert waits[0] == fast  # quiet for under a minute: still quick
    assert all(a <= b for a, b in itertools.pairwise(waits))  # slowing down
    assert waits[-1] == slow and max(waits) == slow  # ... to poll_quiet_seconds, no slower

    kit.x.add_tweet(author="dana", text="@acme my refund never came")
    clock.advance(seconds=slow.total_seconds())
    (found,) = [r for r in kit.ingestor.poll_due() if r.source == MENTIONS]
    assert found.stored == 1
    assert found.next_poll_at == clock.now() + fast  # a mention: back to poll_seconds
    assert kit.ingestor.seconds_to_next_poll() <= fast.total_seconds()


def test_a_429_waits_until_x_resets_the_window_and_loses_nothing(
    kit: ServiceKit, clock: FakeClock
) -> None:
    first = kit.x.add_tweet(author="dana", text="@acme is the app down?")["id"]
    kit.x.rate_limit(f"/2/users/{kit.x.add_user('acme')}/mentions", reset_in=120)

    (limited,) = [r for r in kit.ingestor.poll_due() if r.source == MENTIONS]

    assert limited.error and limited.stored == 0
    reset = limited.next_poll_at  # the fake X dates its reset by the test's clock, as the app does
    assert reset.timestamp() == int(clock.now().timestamp()) + 120
    calls = _mentions_calls(kit)
    second = kit.x.add_tweet(author="erin", text="@acme outage here too")["id"]
    clock.advance(seconds=(reset - clock.now()).total_seconds() - 1)
    assert MENTIONS not in {r.source for r in kit.ingestor.poll_due()}
    assert _mentions_calls(kit) == calls  # X is left alone until its reset
    clock.advance(seconds=1)
    (recovered,) = [r for r in kit.ingestor.poll_due() if r.source == MENTIONS]

    assert recovered.error is None and recovered.stored == 2
    with transaction(kit.engine) as session:
        assert set(session.scalars(select(col(Mention.id)))) == {first, second}
    assert sorted(c.subject_id for c in kit.messages(MENTION_CARD)) == sorted([first, second])
    with transaction(kit.engine) as session:
        assert verify(session)[1] is None


def test_near_the_end_of_the_allowance_the_rest_of_the_window_is_spread_out(
    kit: ServiceKit, clock: FakeClock
) -> None:
    kit.x.add_tweet(author="dana", text="@acme my refund never came")
    kit.x.report_window("/2/users/", remaining=4, reset_in=200)

    (polled,) = [r for r in kit.ingestor.poll_due() if r.source == MENTIONS]

    # tweets are flowing (poll_seconds is 15), but 4 requests must last 200 s: one every ~50 s
    wait = (polled.next_poll_at - clock.now()).total_seconds()
    assert 45 <= wait <= 51


def _read(kit: ServiceKit, endpoint: str, resources: int) -> None:
    ReadLedger(engine=kit.engine, clock=kit.clock).record(endpoint, resources)


BUDGETED = TEST_CONFIG + "x_budget: {monthly_reads: 1000, warn_at_percent: 80}\n"


def test_each_budget_warning_is_raised_once_even_by_racing_workers(make_kit: MakeKit) -> None:
    kit = make_kit(BUDGETED)
    other = make_kit(BUDGETED)  # a second replica on the same database
    _read(kit, "search", 850)
    assert kit.x_budget.check() != []
    assert kit.x_budget.check() == [] and other.x_budget.check() == []

    _read(kit, "mentions", 200)  # 1,050 of 1,000: the budget is spent
    raised: list[int] = []
    barrier = threading.Barrier(4)

    def race(worker: ServiceKit) -> None:
        barrier.wait()
        raised.extend(a.threshold for a in worker.x_budget.check())

    threads = [threading.Thread(target=race, args=(k,)) for k in (kit, other, kit, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert raised == [100]

    with transaction(kit.engine) as session:
        alerts = {a.threshold: a for a in session.scalars(select(XBudgetAlert))}
    assert sorted(alerts) == [80, 100]
    assert len(kit.messages(BUDGET_ALERT)) == 2
    kit.deliver()
    posted = kit.slack.find_messages(lambda m: "budget" in str(m.get("text")))
    assert len(posted) == 2
    assert {m["channel"] for m in posted} == {kit.config.alert_channel}
    assert all("<@U0ADMIN>" in str(m["blocks"]) for m in posted)
    assert sum("Searches are paused" in str(m["blocks"]) for m in posted) == 1
    assert len(kit.audit("x.budget_alert")) == 2


def test_at_100_percent_the_searches_stop_and_the_mentions_go_on(make_kit: MakeKit) -> None:
    kit = make_kit(BUDGETED)
    _read(kit, "search", 1000)
    hit = kit.x.add_tweet(author="dana", text="@acme outage in Leeds")["id"]
    kit.x.add_tweet(author="finn", text="See you all at #acmeconf")  # only a search finds it

    polled = {r.source.split(":")[0] for r in kit.ingestor.poll_due()}

    assert polled == {"mentions", "timeline"}
    assert not [c for c in kit.x.calls if c.path.endswith("/search/recent")]
    with transaction(kit.engine) as session:
        assert set(session.scalars(select(col(Mention.id)))) == {hit}
    assert [a.threshold for a in kit.x_budget.check()] == []  # the pass raised them already
    assert len(kit.messages(BUDGET_ALERT)) == 2


def test_the_poller_sleeps_until_the_next_source_is_due(kit: ServiceKit, clock: FakeClock) -> None:
    fast = float(kit.config.poll_seconds)
    assert kit.ingestor.seconds_to_next_poll() < 0.1  # never polled: due now
    kit.ingestor.poll_due()
    assert kit.ingestor.seconds_to_next_poll() == fast  # timed from the poll's start
    clock.advance(seconds=4)
    assert kit.ingestor.seconds_to_next_poll() == fast - 4

    kit.ingestor.may_poll = lambda: False  # not the leader: look again in one interval
    assert kit.ingestor.seconds_to_next_poll() == fast
    kit.ingestor.may_poll = lambda: True

    clock.advance(seconds=fast)  # every source due; the searches switched off by the budget
    kit.ingestor.searches_allowed = lambda: False
    kit.ingestor.poll_due()
    assert kit.ingestor.seconds_to_next_poll() == fast  # overdue searches don't make it spin


def _eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait (real time) until `condition` holds, re-checked every 20 ms (database state, which
    the fakes cannot signal)."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition still false after {timeout}s")
        done.wait(0.02)


def _stored(kit: ServiceKit, tweet_id: str) -> bool:
    with transaction(kit.engine) as session:
        return session.get(Mention, tweet_id) is not None


def _pass_done(kit: ServiceKit) -> bool:
    """Every source has been polled and none is being polled now."""
    with transaction(kit.engine) as session:
        cursors = list(session.scalars(select(PollCursor)))
    return len(cursors) == len(kit.ingestor.sources()) and all(
        c.lease_until is None for c in cursors
    )


def test_the_run_loop_polls_when_a_source_comes_due(kit: ServiceKit, clock: FakeClock) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=kit.ingestor.run, args=(stop,), daemon=True)
    worker.start()
    try:
        _eventually(lambda: _pass_done(kit))  # the first pass; now asleep until one is due
        first = clock.now()
        tweet = kit.x.add_tweet(author="dana", text="@acme my refund never came")["id"]

        def half_a_second_on() -> bool:
            if _mentions_calls(kit) >= 2:
                return True
            clock.advance(seconds=0.5)
            return False

        _eventually(half_a_second_on, timeout=30)
        _eventually(lambda: _cursor(kit).since_id == tweet)  # that poll has finished
        assert _stored(kit, tweet)
        polled_again = _cursor(kit).next_poll_at - timedelta(seconds=kit.config.poll_seconds)
        assert polled_again >= first + timedelta(seconds=kit.config.poll_seconds)  # not before
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
