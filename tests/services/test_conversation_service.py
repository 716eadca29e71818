"""A mention's conversation on a real database: follow-ups linked at ingest, the context quoted on
a reply, and an author's X profile fetched once and cached."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from bot.core.db import transaction
from bot.core.models import Mention, MentionState, PollCursor, XAuthor
from bot.fakes.services import ServiceKit
from bot.mentions.conversation import conversation_context


def _ingest(kit: ServiceKit, **tweet: str) -> str:
    tweet_id = str(kit.x.add_tweet(**tweet)["id"])  # type: ignore[arg-type]
    kit.clock.advance(seconds=kit.config.poll_seconds)  # type: ignore[attr-defined]
    kit.ingestor.poll_due()
    kit.deliver()
    return tweet_id


def _set_state(kit: ServiceKit, mention_id: str, state: MentionState) -> None:
    with transaction(kit.engine) as session:
        session.execute(update(Mention).where(col(Mention.id) == mention_id).values(state=state))


def test_a_new_tweet_in_an_answered_conversation_is_its_follow_up_and_stays_with_its_team(
    kit: ServiceKit,
) -> None:
    first = _ingest(kit, author="dana", text="@acme my order never came")
    _set_state(kit, first, MentionState.RESOLVED)
    # Alone this would go to crisis management; as a follow-up it stays with whoever answered.
    again = _ingest(kit, author="dana", text="@acme hacked? lawsuit!!", in_reply_to=first)
    follow_up = kit.mention(again)
    assert follow_up.follow_up_of == first and follow_up.state == MentionState.OPEN
    assert follow_up.segment == "customer_relations"
    assert "follow-up of a conversation we answered" in follow_up.route_reason


def test_a_follow_up_read_twice_marks_the_answered_card_once(kit: ServiceKit) -> None:
    first = _ingest(kit, author="dana", text="@acme my order never came")
    _set_state(kit, first, MentionState.RESOLVED)
    card = kit.card(kit.mention(first).card_id)
    # Read twice: the mentions timeline, then again after its cursor went back (a poll that
    # failed before saving it). (Searches no longer read what names @acme: they leave out what
    # the mentions timeline finds.) The second read is a tweet already stored: nothing to redo.
    tweet_id = str(kit.x.add_tweet(author="dana", text="@acme refund?", in_reply_to=first)["id"])
    kit.clock.advance(seconds=kit.config.poll_seconds)  # type: ignore[attr-defined]
    results = kit.ingestor.poll_due()
    with transaction(kit.engine) as session:
        session.execute(
            update(PollCursor)
            .where(col(PollCursor.key) == "mentions:acme")
            .values(since_id=first, next_poll_at=kit.clock.now())
        )
    results += kit.ingestor.poll_due()

    assert sum(r.fetched for r in results if r.source == "mentions:acme") == 2
    assert kit.mention(tweet_id).follow_up_of == first
    assert kit.card(card.id).revision == card.revision + 1  # "dana wrote again", once
    assert len(kit.audit("mention.ingest", subject=f"mention:{tweet_id}")) == 1


def test_a_tweet_in_a_conversation_still_open_is_no_follow_up(kit: ServiceKit) -> None:
    first = _ingest(kit, author="dana", text="@acme my order never came")
    again = _ingest(kit, author="dana", text="@acme hello??", in_reply_to=first)
    assert kit.mention(again).follow_up_of is None
    assert kit.mention(first).state == MentionState.OPEN


def test_the_quoted_context_is_the_last_four_earlier_messages_oldest_first(
    kit: ServiceKit,
) -> None:
    ids = [_ingest(kit, author="dana", text="@acme message 0")]
    for number in range(1, 6):
        ids.append(_ingest(kit, author="dana", text=f"@acme message {number}", in_reply_to=ids[-1]))
    with transaction(kit.engine) as session:
        mention = session.get(Mention, ids[-1])
        assert mention is not None
        context = conversation_context(session, mention)
    assert context.tweet.text == "@acme message 5"
    assert [t.text for t in context.earlier] == [f"@acme message {n}" for n in range(1, 5)]


def test_an_authors_x_profile_is_fetched_once_and_a_failure_is_not_kept(kit: ServiceKit) -> None:
    kit.x.add_user("dana", followers=42, verified=False)
    _ingest(kit, author="dana", text="@acme one")
    second = kit.mention(_ingest(kit, author="dana", text="@acme two"))
    click = kit.on_mention("U0ALICE", second)

    kit.x.fail(f"/2/users/{second.author_id}", status=503, count=1)
    failed = kit.authors.with_profile(kit.authors.view(click))
    assert failed.x_error and failed.profile is None and failed.earlier_count == 1
    with transaction(kit.engine) as session:
        assert session.get(XAuthor, second.author_id) is None  # asked again next time
    kit.x.stop_failing()

    fetched = kit.authors.with_profile(kit.authors.view(click))
    assert fetched.profile is not None and fetched.profile.followers == 42
    assert fetched.profile.verified is False
    again = kit.authors.view(click)
    assert again.profile is not None and not again.waiting_for_x
    assert kit.authors.with_profile(again) == again
    asked = [c for c in kit.x.calls if c.path == f"/2/users/{second.author_id}"]
    assert [c.status for c in asked] == [503, 200]  # once failed, once fetched, never again
