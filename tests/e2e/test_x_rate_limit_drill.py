"""Fault drill: the fake X answers 429 with x-rate-limit-reset in the middle of a poll. The
poller leaves X alone until the reset, carries on from the page it was stopped at, and every
mention ends up in exactly one card in Slack; the audit chain verifies."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from support import TEST_CONFIG

from bot.core import audit
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.fakes.world import FakeWorld
from policies.config import BrandConfig, parse_config

MENTIONS = "mentions:acme"


@pytest.fixture
def config() -> BrandConfig:
    # 250 mentions at once into one channel would be a surge (one summary, cards on demand):
    # this drill is about X's rate limit, so every mention gets its own card.
    return parse_config(TEST_CONFIG + "surge: {enabled: false}\n", filename="test.yaml")


def test_a_429_mid_poll_waits_for_the_reset_and_cards_every_mention_once(
    world: FakeWorld, clock: FakeClock
) -> None:
    tweets = world.x.add_tweets(250, author="fan{i}", text="@acme is the app down? ({i})")
    ids = {str(t["id"]) for t in tweets}
    timeline = f"/2/users/{world.x.add_user('acme')}/mentions"
    world.x.fail(timeline, status=429, skip=1)  # the first page goes through, the second is 429

    (limited,) = [r for r in world.poll() if r.source == MENTIONS]
    assert limited.error and limited.stored == 100  # the first page is kept
    reset = limited.next_poll_at
    assert reset >= clock.now() + timedelta(seconds=55)  # the fake's reset: in 60 s
    calls = len(world.x.calls_to(timeline))
    world.deliver()
    clock.advance(seconds=(reset - clock.now()).total_seconds() - 1)
    assert MENTIONS not in {r.source for r in world.poll()}
    assert len(world.x.calls_to(timeline)) == calls  # X left alone until its reset

    clock.advance(seconds=1)
    (resumed,) = [r for r in world.poll() if r.source == MENTIONS]
    assert resumed.error is None and resumed.stored == 150
    assert "pagination_token" in world.x.calls_to(timeline)[calls].params  # from page two
    clock.advance(seconds=world.config.poll_seconds)
    world.poll()  # a later poll re-reads nothing new
    for _ in range(1000):  # Slack takes about one message a second per channel
        world.deliver()
        if all(world.card(i).ts is not None for i in ids):
            break
        clock.advance(seconds=1)

    posted = Counter(
        c.response["ts"] for c in world.slack.calls_to("chat.postMessage") if c.response["ok"]
    )
    cards = {i: world.card(i).ts for i in ids}
    assert len(set(cards.values())) == 250  # one card each, each its own message
    assert {posted[ts] for ts in cards.values()} == {1}  # each posted once
    with transaction(world.db) as session:
        assert audit.verify(session)[1] is None
