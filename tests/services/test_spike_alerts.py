"""The spike detector on a real database: a week of generated ordinary traffic never alerts; a
storm alerts once, within the pass that sees it, and a later storm alerts again.

Traffic is stored straight into the mention table (bot/fakes/traffic.py) and the detector run as
the poller runs it after each poll, with the clock moved in steps."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from services.conftest import MakeKit
from sqlalchemy import Engine, select
from sqlmodel import col
from support import TEST_CONFIG

from bot.alerts.spikes import SPIKE_ALERT
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import SpikeAlert
from bot.fakes import traffic
from bot.fakes.services import ServiceKit
from policies.spike import Thresholds

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)  # the watched week starts here; history before it
WEEK = timedelta(days=7)
TWO_ACCOUNTS = TEST_CONFIG.replace(
    "  - {handle: acme, credentials_env: ACME}",
    "  - {handle: acme, credentials_env: ACME}\n  - {handle: acmehelp, credentials_env: HELP}",
)
BUSY, QUIET = 4000, 150  # weekday mentions: a big brand's care account, a small one's


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=MONDAY)


@pytest.fixture
def kit(make_kit: MakeKit) -> ServiceKit:
    return make_kit(TWO_ACCOUNTS)


def ordinary(
    engine: Engine, *, days: float, start: datetime = MONDAY - WEEK, seed: int = 0
) -> None:
    """Ordinary traffic for both accounts: @acme busy, @acmehelp quiet."""
    for account, per_day in (("acme", BUSY), ("acmehelp", QUIET)):
        tweets = traffic.ordinary_traffic(
            account=account, start=start, days=days, per_day=per_day, seed=seed
        )
        traffic.store(engine, tweets, account=account)


def storm(
    engine: Engine,
    start: datetime,
    *,
    minutes: int = 30,
    per_minute: float = 8.0,
    account: str = "acme",
    seed: int = 0,
) -> None:
    tweets = traffic.storm(
        account=account, start=start, minutes=minutes, per_minute=per_minute, seed=seed
    )
    traffic.store(engine, tweets, account=account)


def run_until(
    kit: ServiceKit, clock: FakeClock, until: datetime, step: timedelta
) -> dict[int, datetime]:
    """The detector every `step` until `until`, as after each poll; when each spike opened."""
    opened = {}
    while clock.now() < until:
        clock.advance(seconds=step.total_seconds())
        for spike in kit.spikes.check():
            assert spike.id is not None
            opened[spike.id] = clock.now()
    return opened


def spikes(engine: Engine) -> list[SpikeAlert]:
    with transaction(engine) as session:
        return list(session.scalars(select(SpikeAlert).order_by(col(SpikeAlert.id))))


def thresholds(kit: ServiceKit) -> Thresholds:
    s = kit.config.alerts.spike
    return Thresholds(s.window_minutes, s.baseline_days, s.factor, s.min_negative, s.min_mentions)


POLL = timedelta(seconds=15)


def test_a_week_of_ordinary_traffic_never_alerts(kit: ServiceKit, clock: FakeClock) -> None:
    ordinary(kit.engine, days=14)  # a week of history, then the week watched
    # Monday at every poll; the rest of the week every two minutes (the window slides by a
    # fifth of itself)
    assert run_until(kit, clock, MONDAY + timedelta(days=1), POLL) == {}
    assert run_until(kit, clock, MONDAY + WEEK, timedelta(minutes=2)) == {}
    assert spikes(kit.engine) == []
    assert kit.messages(SPIKE_ALERT) == []


def test_ordinary_traffic_at_lunch_is_past_the_floor(kit: ServiceKit, clock: FakeClock) -> None:
    """The week above is no trivial pass: at lunch the busy account's window is over the volume
    floor, so its baseline, not the floor, keeps it quiet."""
    ordinary(kit.engine, days=8)
    clock.advance(hours=12, minutes=30)
    measured = kit.spikes.measure(["acme"], clock.now(), thresholds(kit), -0.3)["acme"]
    assert measured.counts.mentions > kit.config.alerts.spike.min_mentions
    assert measured.base.days == 7
    assert measured.base.mentions > kit.config.alerts.spike.min_mentions / 4


def test_a_storm_alerts_once_within_the_pass_that_sees_it(
    kit: ServiceKit, clock: FakeClock
) -> None:
    ordinary(kit.engine, days=8)
    clock.advance(hours=11, minutes=50)
    storm_at = MONDAY + timedelta(hours=12)
    storm(kit.engine, storm_at, minutes=45)
    opened = run_until(kit, clock, MONDAY + timedelta(hours=14), POLL)
    assert len(opened) == 1, "one alert per storm, not one per poll"
    (spike,) = spikes(kit.engine)
    assert spike.account == "acme" and "negative" in spike.trigger
    assert spike.id is not None
    assert storm_at < opened[spike.id] <= storm_at + timedelta(minutes=10)
    # within one poll: the pass before the alert was still under the level
    before = kit.spikes.measure(["acme"], opened[spike.id] - POLL, thresholds(kit), -0.3)["acme"]
    assert before.counts.negative < spike.negative_level
    assert spike.negative >= spike.negative_level
    assert spike.ended_at is not None, "calmed down after the storm"
    assert spike.peak_negative >= spike.negative
    # the alert went to the crisis channel, with terms and five examples of the storm
    (message,) = kit.messages(SPIKE_ALERT)
    assert message.channel == kit.config.alert_channel == "C0CRISIS"
    terms = json.loads(spike.terms)
    assert {"hacked", "breach"} & set(terms)
    assert len(json.loads(spike.examples)) == 5
    (entry,) = kit.audit("spike.alert")
    assert entry.subject == "account:acme"
    assert kit.audit("spike.ended")


def test_a_second_storm_after_the_first_ended_alerts_again(
    kit: ServiceKit, clock: FakeClock
) -> None:
    ordinary(kit.engine, days=9)
    clock.advance(hours=11, minutes=55)
    storm(kit.engine, MONDAY + timedelta(hours=12), minutes=30, seed=1)
    storm(kit.engine, MONDAY + timedelta(hours=17), minutes=30, seed=2)
    storm(
        kit.engine, MONDAY + timedelta(days=1, hours=12), minutes=30, seed=3
    )  # tomorrow, same hour
    run_until(kit, clock, MONDAY + timedelta(days=1, hours=13), timedelta(minutes=1))
    found = spikes(kit.engine)
    assert [s.started_at.hour for s in found] == [12, 17, 12]
    assert all(s.ended_at is not None for s in found[:2])
    # yesterday's storm is left out of today's baseline: it would have blunted the alert
    assert found[2].baseline_days == 6
    assert len(kit.messages(SPIKE_ALERT)) == 3


def test_a_storm_keeps_raging_between_bursts_without_new_alerts(
    kit: ServiceKit, clock: FakeClock
) -> None:
    """Bursts five minutes long every twenty minutes for two hours: between them the window
    empties for a few minutes, yet it is one storm (it must stay calm for half an hour)."""
    ordinary(kit.engine, days=8)
    clock.advance(hours=11, minutes=55)
    for minute in range(0, 120, 20):
        storm_at = MONDAY + timedelta(hours=12, minutes=minute)
        storm(kit.engine, storm_at, minutes=5, per_minute=14.0, seed=minute)
    opened = run_until(kit, clock, MONDAY + timedelta(hours=15), POLL)
    assert len(opened) == 1
    (spike,) = spikes(kit.engine)
    assert spike.ended_at is not None and spike.ended_at > MONDAY + timedelta(hours=14)


def test_a_new_install_alerts_on_the_floors(kit: ServiceKit, clock: FakeClock) -> None:
    clock.advance(hours=12)
    # nine complaints in ten minutes from nobody's history: under the floor of ten
    tweets = traffic.storm(
        account="acmehelp", start=clock.now() - timedelta(minutes=9), minutes=9, per_minute=1.0
    )
    traffic.store(kit.engine, tweets[:9], account="acmehelp")
    assert kit.spikes.check() == []
    traffic.store(
        kit.engine,
        [traffic.GeneratedTweet(clock.now(), "one_more", "@acmehelp hacked, awful")],
        account="acmehelp",
    )
    (spike,) = kit.spikes.check()
    assert (spike.account, spike.baseline_days, spike.negative) == ("acmehelp", 0, 10)


def test_a_new_install_compares_with_the_hours_before(kit: ServiceKit, clock: FakeClock) -> None:
    """The first poll reads back a day: a busy account is judged against its last two hours,
    not the floors its lunchtime traffic is over."""
    start = MONDAY + timedelta(hours=9)
    tweets = traffic.ordinary_traffic(account="acme", start=start, days=3.5 / 24, per_day=BUSY)
    traffic.store(kit.engine, tweets, account="acme")
    clock.advance(hours=12, minutes=25)
    assert kit.spikes.check() == []
    measured = kit.spikes.measure(["acme"], clock.now(), thresholds(kit), -0.3)["acme"]
    assert measured.base.recent and measured.counts.mentions > 40


def test_a_backfill_after_an_outage_is_no_spike(kit: ServiceKit, clock: FakeClock) -> None:
    """Three hours of ordinary mentions read at once after X was down: they count at the
    minutes they were tweeted, not at the minute they were read."""
    ordinary(kit.engine, days=7)
    clock.advance(hours=15)
    missed = traffic.ordinary_traffic(
        account="acme", start=MONDAY + timedelta(hours=12), days=3 / 24, per_day=BUSY, seed=9
    )
    traffic.store(kit.engine, missed, account="acme", ingested_at=clock.now())
    assert len(missed) > 200
    assert kit.spikes.check() == []


def test_two_processes_open_one_spike(make_kit: MakeKit, clock: FakeClock) -> None:
    first, second = make_kit(TWO_ACCOUNTS), make_kit(TWO_ACCOUNTS)
    clock.advance(hours=12)
    storm(first.engine, clock.now() - timedelta(minutes=10), minutes=10, per_minute=5.0)
    start = threading.Barrier(2)
    opened: list[int] = []

    def detect(kit: ServiceKit) -> None:
        start.wait()
        opened.extend(s.id or 0 for s in kit.spikes.check())

    threads = [threading.Thread(target=detect, args=(k,)) for k in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(opened) == 1
    assert len(spikes(first.engine)) == 1
    assert len(first.messages(SPIKE_ALERT)) == 1
    assert len(first.audit("spike.alert")) == 1


def test_each_account_has_its_own_storm(kit: ServiceKit, clock: FakeClock) -> None:
    ordinary(kit.engine, days=8)
    clock.advance(hours=12)
    storm(
        kit.engine,
        clock.now() - timedelta(minutes=10),
        minutes=10,
        per_minute=3.0,
        account="acmehelp",
    )
    (spike,) = kit.spikes.check()
    assert spike.account == "acmehelp"  # 30 angry tweets: a storm for the quiet account only


def test_disabled_means_no_detector(make_kit: MakeKit, clock: FakeClock) -> None:
    kit = make_kit(TWO_ACCOUNTS + "alerts: {spike: {enabled: false}}\n")
    clock.advance(hours=12)
    storm(kit.engine, clock.now() - timedelta(minutes=10), minutes=10, per_minute=8.0)
    assert kit.spikes.check() == []


def test_the_detector_runs_after_each_poll_even_if_another_hook_fails(
    kit: ServiceKit, clock: FakeClock
) -> None:
    def broken(_results: object) -> None:
        raise RuntimeError("a hook with a bug")

    kit.ingestor.after_poll.insert(0, broken)
    clock.advance(hours=12)
    for i in range(12):
        kit.x.add_tweet(
            author=f"angry{i}",
            text=f"@acme you got hacked, disgusting #{i}",
            created_at=clock.now() - timedelta(seconds=30 * i),
        )
    results = kit.ingestor.poll_due()
    assert any(r.stored for r in results)
    (spike,) = spikes(kit.engine)
    assert (spike.account, spike.negative) == ("acme", 12)


def test_freeze_from_the_alert_when_everything_is_already_frozen(
    kit: ServiceKit, clock: FakeClock
) -> None:
    clock.advance(hours=12)
    storm(kit.engine, clock.now() - timedelta(minutes=10), minutes=10, per_minute=3.0)
    (spike,) = kit.spikes.check()
    kit.deliver()
    (alert,) = kit.messages(SPIKE_ALERT)
    kit.freeze.freeze(person=kit.person("U0ADMIN"), text="all maintenance window")
    answer = kit.spikes.freeze(kit.click("U0ADMIN", alert, str(spike.id)))
    assert isinstance(answer, str) and "already frozen for every account" in answer
    assert "maintenance window" in answer
    assert kit.audit("freeze") and len(kit.audit("freeze")) == 1  # no second freeze


def test_the_alert_says_when_the_storm_calmed_down(kit: ServiceKit, clock: FakeClock) -> None:
    clock.advance(hours=12)
    storm(kit.engine, clock.now() - timedelta(minutes=10), minutes=10, per_minute=3.0)
    (spike,) = kit.spikes.check()
    kit.deliver()
    (alert,) = kit.messages(SPIKE_ALERT)
    assert "Still going" in str(kit.slack.message(alert.channel, str(alert.ts))["blocks"])
    run_until(kit, clock, clock.now() + timedelta(minutes=45), timedelta(minutes=1))
    kit.deliver()
    shown = str(kit.slack.message(alert.channel, str(alert.ts))["blocks"])
    assert "Calmed down" in shown
    assert f"at its peak {spike.negative} negative" in shown
    assert len(kit.messages(SPIKE_ALERT)) == 1  # redrawn in place
