"""Issue 11's parts meet: a reply posted on X directly — read from the account's own timeline —
stops the mention's reminders, and the report credits it (first response from the tweets' own
times), counts the post made around brandbot and the reads it took to see it."""

from __future__ import annotations

import json

from support import audit_entries, carded, posted_card

from bot.core.clock import FakeClock
from bot.fakes.world import FakeWorld
from bot.reports.rendering import report_json


def _tick(world: FakeWorld, **delta: float) -> None:
    assert isinstance(world.clock, FakeClock)
    world.clock.advance(**delta)
    world.runtime.services.timers.run_due()
    world.deliver()


def _thread(world: FakeWorld, mention_id: str) -> list[str]:
    card = posted_card(world, mention_id)
    return [
        str(m.get("text", ""))
        for m in world.slack.find_messages(lambda m: m.get("thread_ts") == card.ts)
    ]


def test_a_native_reply_stops_the_nagging_and_the_report_credits_it(world: FakeWorld) -> None:
    assert isinstance(world.clock, FakeClock)
    mention_id = carded(world, "@acme my parcel never arrived")  # polls the timeline too
    tweeted_at = world.mention(mention_id).tweeted_at

    _tick(world, minutes=8)  # half the 15-minute target: the card warns
    card = posted_card(world, mention_id)
    shown = json.dumps(world.slack.message(card.channel, card.ts)["blocks"], ensure_ascii=False)
    assert "half the 15 min target has passed" in shown

    # Someone with the password answers on x.com at minute 10; brandbot sees it at the next poll.
    _tick(world, minutes=2)
    reply = world.x.post_natively(
        "acme",
        "@dana sorry! DM us your order number",
        in_reply_to=mention_id,
        created_at=world.clock.now(),  # the test's clock, not the machine's
    )
    world.clock.advance(seconds=world.config.poll_seconds)
    world.poll()
    world.deliver()
    mention = world.mention(mention_id)
    assert (mention.state, mention.replied_via, mention.reply_tweet_id) == (
        "replied",
        "x",
        str(reply["id"]),
    )

    _tick(world, minutes=30)  # past twice the target: no reminder, no escalation
    _tick(world, hours=2)
    assert not any("response target" in text for text in _thread(world, mention_id))
    assert audit_entries(world, action="mention.reminded") == []
    assert audit_entries(world, action="mention.escalated") == []
    assert len(audit_entries(world, action="x.post_around_brandbot")) == 1

    figures = report_json(world.runtime.services.reports.build("day", since="1d"))
    care = figures["segments"]["customer_relations"]
    assert care["mentions"] == 1 and care["replied"] == 1 and care["replied_on_x"] == 1
    assert mention.replied_at is not None
    # in whole seconds, as the report gives them
    expected = round((mention.replied_at - tweeted_at).total_seconds())
    assert care["first_response_seconds"]["p50"] == expected  # from the tweets' times on X
    assert expected >= 10 * 60  # the reply's time on X, not when the poll saw it
    assert care["first_response_seconds"]["within_target_share"] == 1.0
    assert figures["posts"]["around_brandbot"] == 1
    assert figures["x_reads"]["requests"] > 0  # the timeline, mentions and searches were read
