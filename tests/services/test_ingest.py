"""The Ingestor on a real database against the fake X: a poll stores each tweet once, routes it,
queues its card and moves the cursor; an X failure delays the source and loses nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from support import TEST_CONFIG

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Mention, PollCursor
from bot.fakes.services import ServiceKit
from bot.mentions.service import MENTION_CARD

MENTIONS = "mentions:acme"


def _mentions(kit: ServiceKit) -> dict[str, str]:
    """Each stored mention's segment, by tweet id."""
    with transaction(kit.engine) as session:
        return {m.id: m.segment for m in session.scalars(select(Mention))}


def _cursor(kit: ServiceKit, key: str = MENTIONS) -> PollCursor:
    with transaction(kit.engine) as session:
        cursor = session.get(PollCursor, key)
        assert cursor is not None, f"{key} was never polled"
        return cursor


def _timeline_calls(kit: ServiceKit) -> int:
    return len([c for c in kit.x.calls if c.path.endswith("/mentions")])


def test_a_poll_stores_each_tweet_once_routes_it_queues_its_card_and_moves_on(
    kit: ServiceKit,
    clock: FakeClock,
) -> None:
    # The refund and the breach match a segment's search too, but the searches leave out what
    # the mentions timeline finds (owned reads are cheaper): each tweet is read once.
    refund = kit.x.add_tweet(author="dana", text="@acme my refund never came")["id"]
    breach = kit.x.add_tweet(author="erin", text="@acme was there a breach?")["id"]
    conference = kit.x.add_tweet(author="finn", text="See you all at #acmeconf")["id"]

    results = kit.ingestor.poll_due()

    assert [r.error for r in results] == [None] * len(kit.ingestor.sources())
    assert sum(r.fetched for r in results) == sum(r.stored for r in results) == 3
    assert _mentions(kit) == {
        refund: "customer_relations",
        breach: "crisis_management",
        conference: "event_coverage",
    }
    cards = {c.subject_id: c.channel for c in kit.messages(MENTION_CARD)}
    assert cards == {refund: "C0CUSTOMER", breach: "C0CRISIS", conference: "C0EVENTS"}
    ingested = [json.loads(str(e.after))["tweet"] for e in kit.audit("mention.ingest")]
    assert sorted(ingested) == sorted([refund, breach, conference])
    assert _cursor(kit).since_id == max(refund, breach, key=int)

    assert kit.ingestor.poll_due() == []  # nothing is due before poll_seconds
    clock.advance(seconds=kit.config.poll_seconds)
    later = kit.x.add_tweet(author="dana", text="@acme still no refund")["id"]
    assert sum(r.stored for r in kit.ingestor.poll_due()) == 1
    (timeline,) = [c for c in kit.x.calls if c.path.endswith("/mentions")][1:]
    assert timeline.params["since_id"] == max(refund, breach, key=int)
    assert set(_mentions(kit)) == {refund, breach, conference, later}
    assert len(kit.messages(MENTION_CARD)) == 4


def test_an_x_failure_delays_the_source_and_loses_no_tweet(
    kit: ServiceKit, clock: FakeClock
) -> None:
    question = kit.x.add_tweet(author="dana", text="@acme quick question about my plan")["id"]
    kit.x.fail(f"/2/users/{kit.x.add_user('acme')}/mentions", status=503)

    (failed,) = [r for r in kit.ingestor.poll_due() if r.source == MENTIONS]

    assert failed.error and failed.stored == 0 and _mentions(kit) == {}
    cursor = _cursor(kit)
    assert cursor.since_id is None and cursor.failures == 1 and cursor.last_error
    backoff = 2 * kit.config.poll_seconds
    assert failed.next_poll_at == kit.clock.now() + timedelta(seconds=backoff)

    calls = _timeline_calls(kit)
    clock.advance(seconds=backoff - 1)
    assert MENTIONS not in {r.source for r in kit.ingestor.poll_due()}
    assert _timeline_calls(kit) == calls  # X is left alone until then
    clock.advance(seconds=1)
    (recovered,) = [r for r in kit.ingestor.poll_due() if r.source == MENTIONS]

    assert recovered.error is None and recovered.stored == 1
    assert _mentions(kit) == {question: "customer_relations"}
    cursor = _cursor(kit)
    assert cursor.since_id == question and cursor.failures == 0 and cursor.last_error is None


EVENTS_ACCOUNT = TEST_CONFIG.replace(
    "  - {handle: acme, credentials_env: ACME}\n",
    "  - {handle: acme, credentials_env: ACME}\n  - {handle: acme_events, credentials_env: EVENTS}\n",
).replace(
    '    follow: {hashtags: ["#acmeconf"]}\n',
    '    follow: {hashtags: ["#acmeconf"]}\n    accounts: [acme_events]\n',
)


def test_a_search_hit_naming_none_of_our_accounts_is_the_segments_and_its_card_says_so(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(EVENTS_ACCOUNT)
    hit = kit.x.add_tweet(author="finn", text="See you all at #acmeconf")["id"]
    named = kit.x.add_tweet(author="gus", text="@acme is #acmeconf sold out?")["id"]

    kit.ingestor.poll_due()
    kit.deliver()

    assert kit.mention(hit).account == "acme_events"  # event coverage posts as it, not @acme
    assert kit.mention(named).account == "acme"  # the account it names
    shown = {
        m: str(kit.slack.message(c.channel, str(c.ts))["blocks"])
        for m, c in ((m, kit.card(kit.mention(m).card_id)) for m in (hit, named))
    }
    # X lets a brand reply only to tweets that mention it: the hit is to be quoted, from its account
    assert "X only lets @acme_events reply to tweets that mention it" in shown[hit]
    assert "mention_quote" in shown[hit] and "mention_reply" not in shown[hit]
    assert "X only lets" not in shown[named] and "mention_reply" in shown[named]


def test_a_tweet_to_a_longer_handle_is_not_taken_for_ours(kit: ServiceKit) -> None:
    # Found by the segment's search ("refund", narrowed to acme), @acme's mentions never list it.
    tweet = kit.x.add_tweet(author="dana", text="@acmestore refund for acme never came")["id"]

    kit.ingestor.poll_due()
    kit.deliver()

    mention = kit.mention(tweet)
    assert mention.account == "acme" and mention.found_by.startswith("search")
    card = kit.card(mention.card_id)
    shown = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    assert "X only lets @acme reply to tweets that mention it" in shown  # @acmestore isn't @acme
