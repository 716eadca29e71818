"""X → routed, stored, carded: end to end through the fake X and fake Slack."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col
from support import posted_card

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import MentionState, SurgeMention
from bot.fakes.world import FakeWorld


def test_each_mention_reaches_its_segment_channel_with_a_full_card(world: FakeWorld) -> None:
    outage = world.x.add_tweet(author="dana", text="@acme your app is down, outage since 9am")
    event = world.x.add_tweet(author="sam", text="@acme which room is the keynote? #AcmeConf")
    hostile = world.x.add_tweet(
        author="troll", text="@acme you got hacked, awful scam, lawsuit coming"
    )
    promo = world.x.add_tweet(author="lee", text="@acme any promo code for the launch?")

    world.poll()
    world.deliver()

    expected = {
        outage["id"]: ("customer_relations", "C0CUSTOMER"),
        event["id"]: ("event_coverage", "C0EVENTS"),
        hostile["id"]: ("crisis_management", "C0CRISIS"),
        promo["id"]: ("product_promotion", "C0PROMO"),
    }
    for tweet_id, (segment, channel) in expected.items():
        mention = world.mention(tweet_id)
        assert mention.segment == segment
        assert mention.state == MentionState.OPEN
        card = world.card(tweet_id)
        assert card.channel == channel and card.ts is not None
        posted = world.slack.message(channel, card.ts)
        blocks_text = str(posted["blocks"])
        assert mention.text.split()[1] in blocks_text  # the tweet text
        assert f"@{mention.author_handle}" in blocks_text
        assert mention.url in blocks_text  # link to the tweet
        assert "Sentiment" in blocks_text and "<!date^" in blocks_text
        assert "why here" in blocks_text
    assert "hacked" in world.mention(hostile["id"]).route_reason


def test_a_tweet_found_by_mentions_and_by_search_is_one_card(world: FakeWorld) -> None:
    tweet = world.x.add_tweet(author="sam", text="@acme loving it #acmeconf")
    world.poll()  # mentions timeline and event_coverage's hashtag search both return it
    world.poll()  # and an overlapping poll returns nothing new
    world.deliver()
    searched = [c for c in world.x.calls if c.path.startswith("/2/tweets/search/recent")]
    assert searched, "the hashtag search was polled"
    cards = [c for c in world.cards() if c.subject_id == tweet["id"]]
    assert len(cards) == 1
    assert len(world.slack.calls_to("chat.postMessage")) == 1


def _placed(world: FakeWorld) -> set[str]:
    """The mentions with a card, or in a surge summary (each in one or the other)."""
    carded = {c.subject_id for c in world.cards()}
    with transaction(world.db) as session:
        summarised = set(session.scalars(select(col(SurgeMention.mention_id))))
    assert carded.isdisjoint(summarised)
    return carded | summarised


def test_all_pages_are_read_and_the_cursor_persists(world: FakeWorld, clock: FakeClock) -> None:
    tweets = [
        world.x.add_tweet(author=f"fan{i}", text=f"@acme hello number {i}") for i in range(250)
    ]
    world.poll()
    # 250 cards at once are more than a minute of Slack's pace: a surge summary stands for them
    assert _placed(world) == {t["id"] for t in tweets}

    later = world.x.add_tweet(author="fan", text="@acme one more")
    clock.advance(seconds=16)
    restarted = world.build_runtime()  # a new process: the cursor comes from the database
    restarted.ingestor.poll_due()
    mention_calls = [c for c in world.x.calls if "/mentions" in c.path]
    assert mention_calls[-1].params.get("since_id") == max((t["id"] for t in tweets), key=int)
    assert len(_placed(world)) == 251
    assert world.mention(later["id"]).segment == "customer_relations"


def test_cards_of_one_conversation_thread_under_the_first(world: FakeWorld) -> None:
    first = world.x.add_tweet(author="dana", text="@acme refund please, order 123")
    reply = world.x.add_tweet(
        author="dana", text="@acme still waiting on that refund", in_reply_to=first["id"]
    )
    world.poll()
    world.deliver()
    root, child = world.card(first["id"]), world.card(reply["id"])
    assert child.thread_root_id == root.id
    assert child.ts is not None
    posted_child = world.slack.message("C0CUSTOMER", child.ts)
    assert posted_child["thread_ts"] == root.ts


def test_x_rate_limit_delays_polling_until_reset_and_loses_nothing(
    world: FakeWorld, clock: FakeClock
) -> None:
    world.x.rate_limit("/2/users", count=1, reset_in=120)
    tweet = world.x.add_tweet(author="dana", text="@acme outage again")
    results = world.poll()
    limited = [r for r in results if r.error]
    assert limited and limited[0].next_poll_at > clock.now()
    mention_calls = len(world.x.calls_to("/2/users/"))
    world.poll()
    assert len(world.x.calls_to("/2/users/")) == mention_calls  # it waits for the reset
    clock.advance(seconds=121)
    world.poll()
    assert world.mention(tweet["id"]).segment == "customer_relations"


def test_tweet_text_is_stored_as_written_and_escaped_once_for_slack(world: FakeWorld) -> None:
    tweet = world.x.add_tweet(author="dana", text="@acme refund for R&D <3 > nothing")
    world.poll()
    world.deliver()
    mention = world.mention(tweet["id"])
    assert mention.text == "@acme refund for R&D <3 > nothing"  # X sent it HTML-escaped
    card = posted_card(world, tweet["id"])
    shown = world.slack.message(card.channel, card.ts)
    assert "R&amp;D &lt;3 &gt; nothing" in str(shown["blocks"])
    assert "&amp;amp;" not in str(shown["blocks"]) + shown["text"]
