"""Failures of Slack or X, and restarts, delay work; they never lose or duplicate it."""

from __future__ import annotations

import json
import time

from sqlalchemy import select
from sqlmodel import col
from support import audit_entries

from bot.alerts.spikes import SPIKE_ALERT
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Mention, MentionState, SlackMessage, SurgeMention
from bot.core.outbox import METADATA_EVENT
from bot.fakes.world import FakeWorld
from bot.mentions.surge import SURGE_SUMMARY
from bot.slack.cards.mention_card import MentionAction


def _posted_cards(world: FakeWorld) -> dict[int, int]:
    """How many Slack messages carry each outbox id (exactly one each, or we duplicated)."""
    counts: dict[int, int] = {}
    for messages in world.slack.messages.values():
        for message in messages:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT:
                key = meta["event_payload"]["id"]
                counts[key] = counts.get(key, 0) + 1
    return counts


def _drain(world: FakeWorld, clock: FakeClock, *, limit: int = 400) -> None:
    for _ in range(limit):
        world.deliver()
        if world.runtime.outbox.pending_count() == 0:
            return
        clock.advance(seconds=30)
    raise AssertionError("outbox never drained")


def test_slack_429_and_5xx_storm_every_card_posted_exactly_once(
    world: FakeWorld, clock: FakeClock
) -> None:
    tweets = [world.x.add_tweet(author=f"u{i}", text=f"@acme outage report {i}") for i in range(40)]
    world.slack.fail_randomly(0.5, statuses=(429, 500, 503), seed=7)
    world.poll()
    _drain(world, clock)
    world.slack.stop_failing()
    failed = [c for c in world.slack.calls if c.http_status != 200]
    assert len(failed) > 10, "the storm really happened"
    counts = _posted_cards(world)
    # 40 outage reports at once is a storm too: its spike alert is posted exactly once as well
    everything = world.cards() + world.cards(SPIKE_ALERT)
    assert sorted(counts) == sorted(c.id or 0 for c in everything)
    assert set(counts.values()) == {1}
    assert len(world.cards()) == len(tweets)
    assert len(world.cards(SPIKE_ALERT)) == 1


def test_a_post_whose_response_was_lost_is_found_not_posted_again(
    world: FakeWorld, clock: FakeClock
) -> None:
    tweet = world.x.add_tweet(author="dana", text="@acme refund still missing")
    world.poll()
    # Slack stores the message but the app sees a 500: did it post? The outbox must find out.
    world.slack.fail_next("chat.postMessage", status=500, retry_after=None, apply=True)
    world.deliver()
    card = world.card(tweet["id"])
    assert card.ts is None and card.outcome_unknown
    clock.advance(seconds=10)
    world.deliver()
    assert _posted_cards(world) == {card.id: 1}
    assert world.card(tweet["id"]).ts is not None
    assert world.slack.calls_to("conversations.history")


def test_restart_mid_ingest_neither_duplicates_nor_loses_a_card(
    world: FakeWorld, clock: FakeClock
) -> None:
    tweets = [world.x.add_tweet(author=f"fan{i}", text=f"@acme hello {i}") for i in range(230)]
    # The second page fails: the first page is stored, the cursor must not move.
    world.x.fail(f"/2/users/{world.x.add_user('acme')}/mentions", status=503, count=1, skip=1)
    world.poll()
    with transaction(world.db) as session:
        stored_before = len(session.scalars(select(col(Mention.id))).all())
    assert 0 < stored_before < len(tweets)

    world.runtime.stop()
    world.runtime = world.build_runtime()  # a new process over the same database
    clock.advance(minutes=5)
    calls_before = len(world.x.calls)
    world.poll()
    resumed = next(c for c in world.x.calls[calls_before:] if c.path.endswith("/mentions"))
    assert resumed.params.get("pagination_token"), "resumes at the failed page, not the top"
    _drain(world, clock)
    counts = _posted_cards(world)
    # 230 cards at once are more than a minute of Slack's pace: a surge summary stands for them
    carded = {c.subject_id for c in world.cards()}
    with transaction(world.db) as session:
        summarised = set(session.scalars(select(col(SurgeMention.mention_id))))
    assert carded.isdisjoint(summarised) and len(carded | summarised) == len(tweets)
    spike_alerts = len(world.cards(SPIKE_ALERT))  # 230 mentions at once: a storm of volume,
    assert spike_alerts == 1  # alerted once across the restart
    summaries = len(world.cards(SURGE_SUMMARY))
    assert set(counts.values()) == {1}
    assert len(counts) == len(carded) + spike_alerts + summaries


def test_unsigned_or_stale_requests_get_401_and_change_nothing(world: FakeWorld) -> None:
    tweet = world.x.add_tweet(author="dana", text="@acme outage")
    world.poll()
    world.deliver()
    card = world.card(tweet["id"])
    mallory = world.user("U0MALLORY", "mallory")
    payload = {
        "type": "block_actions",
        "user": {"id": "U0MALLORY", "username": "mallory"},
        "container": {"type": "message", "channel_id": card.channel, "message_ts": card.ts},
        "actions": [{"action_id": MentionAction.RESOLVE, "value": tweet["id"], "block_id": "x"}],
    }
    body = "payload=" + json.dumps(payload)
    bad_signature = mallory.send_raw(body, signature="v0=" + "0" * 64)
    stale = mallory.send_raw(body, timestamp=int(time.time()) - 6 * 60)
    assert bad_signature.status_code == 401
    assert stale.status_code == 401
    assert world.mention(tweet["id"]).state == MentionState.OPEN
    assert [e.action for e in audit_entries(world)] == ["mention.ingest"]
    assert not world.slack.ephemerals


def test_healthz(world: FakeWorld) -> None:
    import requests

    response = requests.get(world.app_url.replace("/slack/events", "/healthz"), timeout=5)
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_thread_replies_wait_for_their_root(world: FakeWorld, clock: FakeClock) -> None:
    first = world.x.add_tweet(author="dana", text="@acme refund please")
    reply = world.x.add_tweet(author="dana", text="@acme hello? refund?", in_reply_to=first["id"])
    world.slack.fail_next("chat.postMessage", status=429, retry_after=3)
    world.poll()
    _drain(world, clock)
    root, child = world.card(first["id"]), world.card(reply["id"])
    assert root.ts is not None and child.thread_root_id == root.id
    assert child.ts is not None
    assert world.slack.message(child.channel, child.ts)["thread_ts"] == root.ts


def test_a_lost_reply_post_is_found_in_its_thread_not_posted_twice(
    world: FakeWorld, clock: FakeClock
) -> None:
    first = world.x.add_tweet(author="dana", text="@acme refund please")
    world.poll()
    world.deliver()
    reply = world.x.add_tweet(
        author="dana", text="@acme any news on my refund?", in_reply_to=first["id"]
    )
    clock.advance(seconds=world.config.poll_seconds)
    world.poll()
    world.slack.fail_next("chat.postMessage", status=503, retry_after=None, apply=True)
    world.deliver()
    assert world.card(reply["id"]).outcome_unknown
    clock.advance(seconds=10)
    world.deliver()
    assert world.slack.calls_to("conversations.replies")
    counts = _posted_cards(world)
    assert counts == {world.card(first["id"]).id: 1, world.card(reply["id"]).id: 1}


def test_a_429_holds_only_its_channel(world: FakeWorld, clock: FakeClock) -> None:
    outage = world.x.add_tweet(author="dana", text="@acme outage again")
    refund = world.x.add_tweet(author="lee", text="@acme refund for order 7")
    promo = world.x.add_tweet(author="sam", text="@acme any promo codes?")
    world.poll()
    world.slack.fail_next("chat.postMessage", status=429, retry_after=30)
    world.deliver()  # the first customer card is refused; the other customer card waits with it
    assert world.card(outage["id"]).ts is None and world.card(refund["id"]).ts is None
    assert world.card(promo["id"]).ts is not None  # another channel goes on
    clock.advance(seconds=31)
    world.deliver()
    assert world.card(outage["id"]).ts is not None and world.card(refund["id"]).ts is not None
    assert set(_posted_cards(world).values()) == {1}


def test_a_message_that_cannot_be_rendered_does_not_block_the_others(
    world: FakeWorld, clock: FakeClock
) -> None:
    with transaction(world.db) as session:
        # e.g. a row written by a newer replica during a rolling deploy
        session.add(
            SlackMessage(
                kind="from_the_future",
                subject_id="x",
                channel="C0CUSTOMER",
                due_at=clock.now(),
                created_at=clock.now(),
            )
        )
    tweet = world.x.add_tweet(author="dana", text="@acme outage")
    world.poll()
    world.deliver()
    assert world.card(tweet["id"]).ts is not None
    with transaction(world.db) as session:
        stuck = session.scalars(
            select(SlackMessage).where(col(SlackMessage.kind) == "from_the_future")
        ).one()
    assert stuck.pending and stuck.attempts == 1 and "KeyError" in (stuck.last_error or "")
    assert stuck.lease_owner is None  # released for a worker that can render it
