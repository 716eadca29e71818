"""Slack pacing on a real database against the fake Slack enforcing Slack's channel rate: the outbox
keeps each channel's token bucket before Slack says no, shared by every outbox on the database; a
429 holds only what Slack limited; a channel's cards go out in the order the tweets were written;
Slack down for 30 s delays every card and loses or doubles none."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session, col
from support import TEST_CONFIG

from bot.core import audit
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Mention, SlackMessage
from bot.core.outbox import METADATA_EVENT, Outbox, Rendered
from bot.fakes.services import ServiceKit, add_mention
from bot.fakes.slack_api import SlackCall
from bot.mentions.service import MENTION_CARD

CARE, CRISIS = "C0CUSTOMER", "C0CRISIS"
SEGMENT = {CARE: "customer_relations", CRISIS: "crisis_management"}


@pytest.fixture
def paced(make_kit: Callable[..., ServiceKit], clock: FakeClock) -> ServiceKit:
    """A kit whose outbox keeps app.yaml's default pace (1/s, bursts of 3), against a fake
    Slack refusing, like Slack, more than that into one channel."""
    kit = make_kit(paced=True)
    kit.slack.enforce_channel_rate(per_second=1.0, burst=3, clock=lambda: clock.now().timestamp())
    return kit


def _queue(
    kit: ServiceKit, channel: str, count: int, *, first_id: int = 1_800_000_000_000_000_000
) -> list[str]:
    """`count` mention cards queued (not sent) in `channel`; their tweet ids, oldest first."""
    ids = [str(first_id + i * 1000) for i in range(count)]
    for tweet_id in ids:
        add_mention(
            kit.engine,
            tweet_id=tweet_id,
            at=kit.clock.now(),
            text=f"@acme tweet {tweet_id}",
            segment=SEGMENT[channel],
            channel=channel,
        )
    return ids


def _posted(kit: ServiceKit, channel: str) -> list[str]:
    """The tweet ids of the mention cards in `channel`, in the order Slack got them."""
    with transaction(kit.engine) as session:
        subjects = dict(
            session.execute(
                select(col(SlackMessage.id), col(SlackMessage.subject_id)).where(
                    col(SlackMessage.kind) == MENTION_CARD
                )
            ).all()
        )
    return [
        subjects[m["metadata"]["event_payload"]["id"]]
        for m in kit.slack.messages.get(channel, [])
        if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
    ]


def _record_posts(kit: ServiceKit, clock: FakeClock) -> list[tuple[datetime, SlackCall]]:
    seen: list[tuple[datetime, SlackCall]] = []
    kit.slack.on_call = lambda call: seen.append((clock.now(), call))
    return seen


def _run_until(
    kit: ServiceKit,
    clock: FakeClock,
    done: Callable[[], bool],
    *,
    step: float,
    limit: float,
    outboxes: list[Outbox] | None = None,
) -> dict[str, int]:
    """Move the clock by `step` and run every outbox (at once, in threads) until `done`; how
    many messages each outbox sent."""
    workers = list(outboxes or [kit.outbox])
    sent = {o.owner: 0 for o in workers}

    def run(outbox: Outbox) -> None:
        sent[outbox.owner] += outbox.deliver_due()

    waited = 0.0
    while not done():
        assert waited <= limit, f"not done after {limit} s"
        workers.reverse()  # each starts first in turn
        threads = [threading.Thread(target=run, args=(o,)) for o in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        clock.advance(seconds=step)
        waited += step
    return sent


def test_two_outboxes_on_one_database_never_exceed_a_channels_pace(
    paced: ServiceKit, clock: FakeClock
) -> None:
    care = _queue(paced, CARE, 12)
    crisis = _queue(paced, CRISIS, 4, first_id=1_800_000_000_000_500_000)
    second = replace(paced.outbox, owner="replica-2")
    posts = _record_posts(paced, clock)

    by_outbox = _run_until(
        paced,
        clock,
        lambda: len(_posted(paced, CARE)) == 12 and len(_posted(paced, CRISIS)) == 4,
        step=0.25,
        limit=30,
        outboxes=[paced.outbox, second],
    )

    refused = [c for _, c in posts if c.http_status == 429]
    assert refused == [], "the outbox sent faster than Slack allows"
    assert _posted(paced, CARE) == care and _posted(paced, CRISIS) == crisis
    sent = [c for _, c in posts if c.method == "chat.postMessage" and c.http_status == 200]
    assert len(sent) == 16  # once each
    assert all(by_outbox.values()), f"one outbox did all the work: {by_outbox}"
    care_times = [
        at for at, c in posts if c.method == "chat.postMessage" and c.args["channel"] == CARE
    ]
    # Any span of n sends is at least n - 3 seconds long (a burst of 3, then 1/s) ...
    for first, last in itertools.combinations(range(len(care_times)), 2):
        span = (care_times[last] - care_times[first]).total_seconds()
        assert span >= last - first + 1 - 3 - 1e-6
    # ... and the channel kept up that pace (a step of 0.25 s late at most, per send).
    assert (care_times[-1] - care_times[0]).total_seconds() <= (12 - 3) * 1.25
    # Crisis management's cards did not wait behind customer relations' queue.
    crisis_times = [
        at for at, c in posts if c.method == "chat.postMessage" and c.args["channel"] == CRISIS
    ]
    assert max(crisis_times) < care_times[6]


def test_the_outbox_sleeps_until_the_next_token_not_the_next_idle_check(
    paced: ServiceKit, clock: FakeClock
) -> None:
    _queue(paced, CARE, 5)
    paced.outbox.idle_seconds = 5.0

    assert paced.deliver() == 3  # a burst: then the channel sits out
    assert paced.outbox.idle_wait() == pytest.approx(1.0)
    clock.advance(seconds=0.6)
    assert paced.deliver() == 0
    assert paced.outbox.idle_wait() == pytest.approx(0.4)
    clock.advance(seconds=0.4)
    assert paced.deliver() == 1
    assert [c.http_status for c in paced.slack.calls_to("chat.postMessage")] == [200] * 4


def test_a_slow_send_never_makes_the_next_one_reach_slack_early(
    paced: ServiceKit, clock: FakeClock
) -> None:
    # The first card takes 0.3 s to render, so Slack counts it 0.3 s after its token was taken:
    # a bucket counted from the takes would send the fourth card 0.3 s too early for Slack.
    render = paced.outbox.renderers[MENTION_CARD]
    slow = [True]

    def slow_first(session: Session, message: SlackMessage) -> Rendered:
        if slow.pop() if slow else False:
            clock.advance(seconds=0.3)
        return render(session, message)

    paced.outbox.renderers[MENTION_CARD] = slow_first
    care = _queue(paced, CARE, 5)

    _run_until(paced, clock, lambda: len(_posted(paced, CARE)) == 5, step=0.1, limit=10)

    assert [c.http_status for c in paced.slack.calls_to("chat.postMessage")] == [200] * 5
    assert _posted(paced, CARE) == care


def test_after_a_quiet_spell_a_burst_and_after_a_429_one_send_never_more(
    paced: ServiceKit, clock: FakeClock
) -> None:
    # What bench/storm.py reported after its storm: four posts in one burst after a quiet spell,
    # two ~10 ms apart after each 429 hold (its outbox ran unpaced). Each call here takes 10 ms
    # of the clock, as on loopback, so a bucket counted from the takes would run ahead.
    calls: list[tuple[datetime, SlackCall]] = []

    def answered(call: SlackCall) -> None:
        calls.append((clock.now(), call))
        clock.advance(seconds=0.01)

    paced.slack.on_call = answered

    def post_all(count: int, first_id: int) -> list[str]:
        ids = _queue(paced, CARE, count, first_id=first_id)
        _run_until(paced, clock, lambda: _posted(paced, CARE)[-count:] == ids, step=0.1, limit=20)
        return ids

    def post_times(since: datetime) -> list[datetime]:
        return [at for at, c in calls if c.method == "chat.postMessage" and c.ok and at >= since]

    first = post_all(5, 1_800_000_000_000_000_000)
    clock.advance(seconds=30)  # quiet: the bucket is full again, and no fuller than a burst
    quiet_at = clock.now()
    second = post_all(5, 1_800_000_000_000_100_000)
    paced.slack.fail_next("chat.postMessage", status=429, retry_after=2)
    clock.advance(seconds=30)
    held_at = clock.now()
    third = post_all(4, 1_800_000_000_000_200_000)

    refused = [at for at, c in calls if c.http_status == 429]
    assert len(refused) == 1, "the outbox sent faster than Slack's bucket allows"
    assert _posted(paced, CARE) == first + second + third
    after_quiet = post_times(quiet_at)[:5]
    assert (after_quiet[3] - after_quiet[0]).total_seconds() >= 1.0  # a burst of 3, no more
    after_hold = post_times(held_at)
    assert (after_hold[0] - refused[0]).total_seconds() >= 2.0  # Slack's Retry-After
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(after_hold)]
    assert min(gaps) >= 1.0, f"after the hold: one send, then 1/s, not a burst: {gaps}"


def test_a_429_holds_only_that_channel(paced: ServiceKit, clock: FakeClock) -> None:
    paced.slack.fail_next("chat.postMessage", status=429, retry_after=20)
    care = _queue(paced, CARE, 2)  # the first is refused: customer relations waits 20 s
    crisis = _queue(paced, CRISIS, 2, first_id=1_800_000_000_000_500_000)

    paced.deliver()
    assert _posted(paced, CARE) == [] and _posted(paced, CRISIS) == crisis

    clock.advance(seconds=19)
    assert paced.deliver() == 0  # Slack's Retry-After holds the channel, not just the card
    clock.advance(seconds=1)
    paced.deliver()
    clock.advance(seconds=1)
    paced.deliver()
    assert _posted(paced, CARE) == care


def test_a_429_on_a_search_holds_searches_but_not_the_channels_posts(
    paced: ServiceKit, clock: FakeClock
) -> None:
    # Slack stores the first card but the answer is lost: it must be looked for before posting.
    paced.slack.fail_next("chat.postMessage", status=500, retry_after=None, apply=True)
    lost, fresh = _queue(paced, CARE, 2)
    paced.deliver()
    paced.slack.fail_next("conversations.history", status=429, retry_after=30)
    clock.advance(seconds=5)
    paced.deliver()  # the search is refused: searches wait 30 s, the channel does not

    assert _posted(paced, CARE) == [lost, fresh]
    assert len(paced.slack.calls_to("conversations.history")) == 1
    clock.advance(seconds=29)
    paced.deliver()
    assert len(paced.slack.calls_to("conversations.history")) == 1
    clock.advance(seconds=2)
    paced.deliver()
    assert _posted(paced, CARE) == [lost, fresh]  # found, not posted again
    assert not paced.card(paced.mention(lost).card_id).pending


def test_a_429_on_views_publish_holds_home_tabs_but_not_cards(
    paced: ServiceKit, clock: FakeClock
) -> None:
    paced.person("U0BOB"), paced.person("U0CAROL")
    paced.tabs.opened("U0BOB")
    paced.slack.fail_next("views.publish", status=429, retry_after=30)
    assert paced.tabs.publish_due() == 0
    care = _queue(paced, CARE, 1)

    paced.deliver()
    assert _posted(paced, CARE) == care  # messages are limited per channel, not with views
    clock.advance(seconds=10)
    paced.tabs.opened("U0CAROL")  # another home: Slack limits views.publish per workspace
    assert paced.tabs.publish_due() == 0
    assert len(paced.slack.calls_to("views.publish")) == 1
    clock.advance(seconds=20)
    assert paced.tabs.publish_due() == 2


def test_a_channels_cards_go_out_in_the_order_the_tweets_were_written(
    make_kit: Callable[..., ServiceKit], clock: FakeClock
) -> None:
    # one card per tweet (131 at once would be a surge, folded into one summary)
    kit = make_kit(TEST_CONFIG + "surge: {enabled: false}\n")
    # 130 tweets: X serves the newest page of 100 first, then the older 30.
    tweets = kit.x.add_tweets(130, text="@acme is the app down? {i}", step=timedelta(seconds=1))
    kit.ingestor.poll_due()
    later = kit.x.add_tweet(author="zoe", text="@acme still down")
    clock.advance(seconds=kit.config.poll_seconds)
    kit.ingestor.poll_due()

    kit.deliver()

    with transaction(kit.engine) as session:
        here = set(
            session.scalars(select(col(Mention.id)).where(col(Mention.segment) == SEGMENT[CARE]))
        )
    written = [t["id"] for t in [*tweets, later] if t["id"] in here]  # X's ids grow with time
    assert len(written) > 100 and later["id"] in here
    assert _posted(kit, CARE) == written


def test_slack_failing_every_call_for_30_seconds_delays_cards_and_loses_none(
    paced: ServiceKit, clock: FakeClock
) -> None:
    care = _queue(paced, CARE, 6)
    crisis = _queue(paced, CRISIS, 3, first_id=1_800_000_000_000_500_000)
    # First Slack stores posts but its answers are lost, then it refuses everything: 30 s.
    paced.slack.fail_next(status=500, retry_after=None, apply=True, count=4)
    paced.slack.fail_next(status=503, retry_after=None, count=10**6)
    started = clock.now()
    while (clock.now() - started).total_seconds() < 30:
        paced.deliver()
        clock.advance(seconds=1)
    assert _posted(paced, CARE) + _posted(paced, CRISIS) != []  # some did reach Slack
    paced.slack.stop_failing()

    _run_until(
        paced,
        clock,
        lambda: not paced.outbox.pending_count(),
        step=1,
        limit=120,
    )

    assert sorted(_posted(paced, CARE)) == care and sorted(_posted(paced, CRISIS)) == crisis
    with transaction(paced.engine) as session:
        assert audit.verify(session)[1] is None
