"""No dead ends on an approval card: every state says what is true and offers the next step —
Mark as posted (checked on X), Retry after a person looked, Cancel, Check on X — and a post
too late for its approvers' intent waits for one of them to confirm it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from support import audit_entries, carded

from bot.core import outbox
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, MentionState
from bot.drafts.service import DraftRequest
from bot.fakes.drafting import approval_card as _card
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import draft_via_slack
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.drafting import said as _said
from bot.fakes.slack_user import SlackUser, Submission
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.mark_posted_modal import TWEET_BLOCK
from bot.slack.clicks import Person
from policies import draft_reasons

BACK_UP = "We're back up. Thanks for your patience!"


def _shown(world: FakeWorld, draft: Draft) -> tuple[str, list[str]]:
    """The approval card as Slack shows it now: its text, and its buttons' action ids."""
    world.deliver()
    card = _card(world, draft)
    message = world.slack.message(card.channel, str(card.ts))
    buttons = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    return json.dumps(message["blocks"]), buttons


def _needs_a_person(world: FakeWorld, clock: FakeClock, text: str = BACK_UP) -> Draft:
    """A draft X calls a duplicate of a tweet the search window can't see: a person must look."""
    world.x.add_tweet(author="acme", text=text, created_at=clock.now() - timedelta(days=1))
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), text)
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    _publish(world)
    assert _draft(world, draft.id).state == DraftState.NEEDS_CHECK
    return _draft(world, draft.id)


def _open_mark_posted(world: FakeWorld, user: SlackUser, draft: Draft) -> str:
    """Click Mark as posted; the id of the modal it opened."""
    before = len(world.slack.views_for(user.user_id))
    card = _card(world, draft)
    user.click(channel=card.channel, ts=str(card.ts), action_id=DraftAction.MARK_POSTED)
    world.slack.wait_for(lambda s: len(s.views_for(user.user_id)) > before)
    return str(user.last_view_for(user.user_id)["id"])


def _submit_link(user: SlackUser, view_id: str, link: str) -> Submission:
    """Submit the modal with `link`; what the form shows then (done, else the field errors)."""
    response = user.submit_view(view_id, {TWEET_BLOCK: {"value": link}})
    assert response.status_code == 200
    return response


def _error(answer: Submission) -> str:
    assert answer.errors and not answer.done, answer
    return str(answer.errors[TWEET_BLOCK])


def test_a_posted_card_says_it_is_posted_and_names_approvers_as_slack_mentions(
    world: FakeWorld,
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Spring sale starts now")
    text, _ = _shown(world, draft)
    assert "posts once approved" in text
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    text, _ = _shown(world, draft)
    assert "<@U0BOB>" in text and "posts once approved" not in text
    assert _publish(world) == 1
    text, buttons = _shown(world, draft)
    assert "Posted* by @acme" in text and "approved by <@U0BOB>" in text
    assert "posts once approved" not in text and "posted <!date^" in text
    assert buttons == [DraftAction.DELETE]


def test_mark_as_posted_checks_the_link_on_x_and_refuses_what_is_not_this_drafts_post(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = _needs_a_person(world, clock)
    text, buttons = _shown(world, draft)
    assert buttons == [DraftAction.MARK_POSTED, DraftAction.RETRY, DraftAction.CANCEL]
    assert "Mark as posted" in text and "not confirmed on X" in text

    # The author alone may not vouch for it: the form does not even open.
    alice = world.user("U0ALICE", "alice")
    assert "an approver or an admin" in _click(world, alice, draft, DraftAction.MARK_POSTED)

    carol = world.user("U0CAROL", "carol")
    view = _open_mark_posted(world, carol, draft)
    # Forged: another account's tweet with the very text.
    theirs = world.x.add_tweet(author="mallory", text=BACK_UP)
    refused = _error(_submit_link(carol, view, f"https://x.com/mallory/status/{theirs['id']}"))
    assert "by @mallory, not @acme" in refused
    # Another post of ours, not this one.
    other = world.x.add_tweet(author="acme", text="Something else entirely")
    assert "not this draft's post" in _error(
        _submit_link(carol, view, f"https://x.com/acme/status/{other['id']}")
    )
    # A tweet X doesn't have, and something that isn't a link at all.
    assert "X has no tweet 424242" in _error(_submit_link(carol, view, "424242"))
    assert "Paste the tweet's link" in _error(
        _submit_link(carol, view, "the one from this morning")
    )
    assert _draft(world, draft.id).state == DraftState.NEEDS_CHECK

    ours = next(t for t in world.x.tweets.values() if t["text"] == BACK_UP)
    assert _submit_link(carol, view, f"https://twitter.com/acme/status/{ours['id']}?s=20").done
    world.slack.wait_for(lambda _: _draft(world, draft.id).state == DraftState.POSTED)
    posted = _draft(world, draft.id)
    assert posted.tweet_id == ours["id"] and posted.posted_at is not None
    world.slack.wait_for(lambda s: any("Marked as posted" in e["text"] for e in s.ephemerals))
    marked = audit_entries(world, action="draft.mark_posted", subject=f"draft:{draft.id}")
    assert [e.actor_id for e in marked] == ["U0CAROL"]
    refusals = audit_entries(world, action="draft.refused", subject=f"draft:{draft.id}")
    assert len(refusals) >= 3  # the author, the other account, the other post
    # A second submit of the same form (a stale client: the form now shows it done) changes
    # nothing and says so.
    again = carol.submit_view(view, {TWEET_BLOCK: {"value": ours["id"]}}, force=True)
    assert again.done
    world.slack.wait_for(lambda s: any("Already recorded" in e["text"] for e in s.ephemerals))
    assert len(audit_entries(world, action="draft.mark_posted")) == 1
    assert len(world.x.post_records) == 1  # the one duplicate refusal: nothing posted since


def test_a_tweet_another_draft_owns_cannot_be_marked_as_this_ones(
    world: FakeWorld, clock: FakeClock
) -> None:
    owner = draft_via_slack(world, world.user("U0ALICE", "alice"), BACK_UP)
    _click(world, world.user("U0BOB", "bob"), owner, DraftAction.APPROVE)
    assert _publish(world) == 1
    owned = _draft(world, owner.id).tweet_id
    clock.advance(minutes=5)
    draft = _needs_a_person(world, clock)  # the same text again: X calls it a duplicate
    carol = world.user("U0CAROL", "carol")
    view = _open_mark_posted(world, carol, draft)
    refused = _error(_submit_link(carol, view, f"https://x.com/acme/status/{owned}"))
    assert f"already recorded as draft {owner.id}'s post" in refused
    assert _draft(world, draft.id).state == DraftState.NEEDS_CHECK
    assert _draft(world, owner.id).tweet_id == owned


def test_needs_a_person_retry_asks_for_a_check_first_and_cancel_is_audited(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = _needs_a_person(world, clock)
    world.deliver()
    card = _card(world, draft)
    message = world.slack.message(card.channel, str(card.ts))
    retry = next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == DraftAction.RETRY
    )
    assert "Check @acme's recent posts first" in retry["confirm"]["text"]["text"]
    carol = world.user("U0CAROL", "carol")
    assert "Retrying" in _click(world, carol, draft, DraftAction.RETRY)
    _publish(world)  # X refuses the duplicate again: back to a person
    assert _draft(world, draft.id).state == DraftState.NEEDS_CHECK

    outsider = world.user("U0EVE", "eve")
    assert "approvers (or the author)" in _click(world, outsider, draft, DraftAction.CANCEL)
    assert "Cancelled" in _click(world, world.user("U0ALICE", "alice"), draft, DraftAction.CANCEL)
    assert _draft(world, draft.id).state == DraftState.CANCELLED
    assert [e.actor_id for e in audit_entries(world, action="draft.cancel")] == ["U0ALICE"]
    text, buttons = _shown(world, draft)
    assert buttons == [] and "Cancelled" in text and "Nothing more to do" in text


def test_check_on_x_makes_the_publisher_search_now_and_never_posts_twice(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Maintenance tonight 2am UTC")
    world.x.drop_response_after_post()  # X stores it; its answer never comes back
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    assert _publish(world) == 0
    assert _draft(world, draft.id).state == DraftState.POSTING
    text, buttons = _shown(world, draft)
    assert buttons == [DraftAction.CHECK_X] and "not confirmed yet" in text
    assert _publish(world) == 0  # backing off: not due yet

    # A worker holds it right now: the click leaves it alone.
    with transaction(world.db) as session:
        session.execute(
            update(Draft)
            .where(col(Draft.id) == draft.id)
            .values(lease_owner="other", lease_until=clock.now() + timedelta(seconds=30))
        )
    carol = world.user("U0CAROL", "carol")
    assert "checking X for it right now" in _click(world, carol, draft, DraftAction.CHECK_X)
    with transaction(world.db) as session:
        session.execute(
            update(Draft)
            .where(col(Draft.id) == draft.id)
            .values(lease_owner=None, lease_until=None)
        )

    assert "Checking @acme's recent tweets" in _click(world, carol, draft, DraftAction.CHECK_X)
    assert "Checking" in _click(world, carol, draft, DraftAction.CHECK_X)  # a double click
    assert _publish(world) == 1
    assert _draft(world, draft.id).state == DraftState.POSTED
    assert len(world.x.posted_by("acme")) == 1 and len(world.x.post_records) == 1
    assert _shown(world, draft)[1] == [DraftAction.DELETE]  # posted: nothing to check any more
    assert len(audit_entries(world, action="draft.check_requested")) == 2


def test_an_approved_post_held_up_past_its_stale_time_waits_for_an_approver(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Flash sale: 2 hours only!")
    bob = world.user("U0BOB", "bob")
    world.x.fail(None, status=503, count=10_000)  # X is down
    _click(world, bob, draft, DraftAction.APPROVE)
    for _ in range(8):  # 40 minutes of X failing
        _publish(world)
        clock.advance(minutes=5)
    world.x.stop_failing()
    assert _publish(world) == 0
    held = _draft(world, draft.id)
    assert held.state == DraftState.HELD and world.x.posted_by("acme") == []
    assert draft_reasons.held_as_stale(state=held.state, held_reason=held.held_reason)
    text, buttons = _shown(world, draft)
    assert buttons == [DraftAction.RELEASE, DraftAction.REJECT]
    assert "Confirm it is still right" in text and "Late:" in text
    assert _publish(world) == 0 and world.x.posted_by("acme") == []

    assert "someone else" in _click(
        world, world.user("U0ALICE", "alice"), draft, DraftAction.RELEASE
    )
    assert "Confirmed" in _click(world, bob, draft, DraftAction.RELEASE)
    assert _publish(world) == 1
    assert [t["text"] for t in world.x.posted_by("acme")] == [draft.text]
    assert _publish(world) == 0 and len(world.x.posted_by("acme")) == 1
    assert len(audit_entries(world, action="draft.hold_stale")) == 1


def test_a_post_within_its_stale_time_goes_out_without_asking(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Doors open at 9")
    world.x.fail("POST /2/tweets", status=503, count=1)
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    _publish(world)
    clock.advance(minutes=29)  # within the 30 minutes customer relations allows
    assert _publish(world) == 1
    assert _draft(world, draft.id).state == DraftState.POSTED


def _answer(text: str, **kwargs: Any) -> DraftRequest:
    """A reply or a quote of a mention, drafted as its card's form would (the mention decides
    the segment)."""
    return DraftRequest(account="acme", segment="customer_relations", text=text, **kwargs)


def test_a_reply_x_refuses_under_its_2026_rule_fails_with_why_offers_cancel_and_is_never_retried(
    world: FakeWorld,
) -> None:
    mention = carded(world, "Acme outage in Leeds, third this week", author="dana")
    assert world.mention(mention).summoned is False
    drafts = world.runtime.services.drafts
    draft = drafts.create(
        author=Person("U0ALICE", "alice"),
        request=_answer("@dana sorry about that!", in_reply_to=mention),
    )
    world.deliver()
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    assert _publish(world) == 0
    failed = _draft(world, draft.id)
    assert failed.state == DraftState.FAILED
    assert "X refuses replies to tweets that don't mention @acme — quote it instead" in str(
        failed.last_error
    )
    text, buttons = _shown(world, draft)
    assert buttons == [DraftAction.CANCEL] and "quote it instead" in text
    posts = len(world.x.post_records)
    assert _publish(world) == 0 and len(world.x.post_records) == posts  # never retried

    card = _card(world, draft)
    bob = world.user("U0BOB", "bob")
    forged = _said(
        world,
        bob,
        lambda: bob.forge_action(
            channel=card.channel,
            ts=str(card.ts),
            action_id=DraftAction.RETRY,
            value=f"{draft.id}:{draft.text_hash}",
        ),
    )
    assert "retrying can't help" in forged
    assert _publish(world) == 0 and len(world.x.post_records) == posts
    assert "Cancelled" in _click(world, bob, draft, DraftAction.CANCEL)


def test_a_quote_of_a_mention_posts_as_a_quote_answers_the_mention_and_recovers_by_its_quote(
    world: FakeWorld,
) -> None:
    mention = carded(world, "Acme outage in Leeds, third this week", author="dana")
    drafts = world.runtime.services.drafts
    draft = drafts.create(
        author=Person("U0ALICE", "alice"),
        request=_answer("Leeds: engineers are on site now.", quote_of=mention),
    )
    text, _ = _shown(world, draft)
    assert f"Quote of <https://x.com/i/status/{mention}|this tweet>" in text
    assert "reply to" not in text
    world.x.drop_response_after_post()  # the quote reaches X; its answer is lost
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    assert _publish(world) == 0 and _draft(world, draft.id).state == DraftState.POSTING
    assert isinstance(world.clock, FakeClock)
    world.clock.advance(seconds=5)  # past its backoff
    assert _publish(world) == 1  # found by its text and its quoted tweet: not posted again
    posted = world.x.posted_by("acme")
    assert len(posted) == 1 and len(world.x.post_records) == 1
    assert posted[0]["referenced_tweets"] == [{"type": "quoted", "id": mention}]
    assert _draft(world, draft.id).tweet_id == posted[0]["id"]
    assert world.mention(mention).state == MentionState.REPLIED


def test_every_draft_state_has_a_next_step_or_says_why_none_is_needed(world: FakeWorld) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Every state, one card")
    extra: dict[DraftState, dict[str, Any]] = {
        DraftState.POSTED: {"tweet_id": "1", "posted_at": world.clock.now()},
        DraftState.DELETING: {"tweet_id": "1", "deleted_by": "U0BOB"},
        DraftState.DELETED: {"tweet_id": "1", "deleted_by": "U0BOB"},
        DraftState.REJECTED: {"rejected_by": "U0BOB", "reject_reason": "off-brand"},
        DraftState.FAILED: {"last_error": "X refused the request: 400"},
        DraftState.NEEDS_CHECK: {"last_error": "X says this is a duplicate"},
        DraftState.HELD: {"held_reason": "held when the freeze ended"},
    }
    seen: dict[str, tuple[list[str], str]] = {}
    for state in DraftState:
        with transaction(world.db) as session:
            session.execute(
                update(Draft)
                .where(col(Draft.id) == draft.id)
                .values(state=state, **extra.get(state, {}))
            )
            outbox.mark_changed(session, draft.card_id, now=world.clock.now())
        text, buttons = _shown(world, draft)
        seen[str(state)] = (buttons, text)
        assert buttons or "Nothing more to do" in text, f"{state}: a dead end"
        if state != DraftState.PENDING:
            assert "posts once approved" not in text, f"{state} says it posts once approved"
        if state in (DraftState.POSTED, DraftState.DELETING, DraftState.DELETED):
            assert re.search(r"posted|Posted|Deleting|Deleted", text)
    assert seen["posted"][0] == [DraftAction.DELETE]
    assert seen["posting"][0] == [DraftAction.CHECK_X]
    assert seen["held"][0] == [DraftAction.RELEASE, DraftAction.REJECT]
    for final in ("deleted", "rejected", "expired", "cancelled"):
        assert seen[final][0] == [], final


def test_release_of_a_post_a_freeze_held_says_what_it_did(world: FakeWorld) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Webinar at noon")
    bob = world.user("U0BOB", "bob")
    _click(world, bob, draft, DraftAction.APPROVE)
    with transaction(world.db) as session:  # as the publisher holds one when a freeze ended
        session.execute(
            update(Draft)
            .where(col(Draft.id) == draft.id)
            .values(state=DraftState.HELD, held_reason="held when the freeze ended")
        )
        outbox.mark_changed(session, draft.card_id, now=world.clock.now())
    text, buttons = _shown(world, draft)
    assert buttons == [DraftAction.RELEASE, DraftAction.REJECT]
    assert "Release" in text and "Confirm it is still right" not in text
    assert "Released: it goes to the publish queue now" in _click(
        world, bob, draft, DraftAction.RELEASE
    )
    assert _publish(world) == 1 and len(world.x.posted_by("acme")) == 1
