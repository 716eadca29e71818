"""Cards that follow the conversation, and context on every reply (issue 10): the reply form and
the approval card quote what they answer, a drafted reply shows on the mention's card, a posted
one moves it to Replied, a customer's follow-up re-opens it in the thread, replying needs the
claim, the author's history is one click away, and a search hit is quoted, not replied to."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from support import audit_entries, carded, posted_card

from bot.core import outbox
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, Mention, MentionState, SlackMessage
from bot.fakes.drafting import click_card, get_draft, latest_draft, publish, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.mention_card import MentionAction

ESCAPED_ONCE = "Tom &amp; Jerry &lt;3 &gt; your app"


def _dumps(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _shown(world: FakeWorld, mention_id: str) -> str:
    card = posted_card(world, mention_id)
    return _dumps(world.slack.message(card.channel, card.ts)["blocks"])


def _buttons(world: FakeWorld, mention_id: str) -> list[str]:
    card = posted_card(world, mention_id)
    blocks = world.slack.message(card.channel, card.ts)["blocks"]
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _open_form(
    world: FakeWorld, user: SlackUser, mention_id: str, action: str = MentionAction.REPLY
) -> dict[str, Any]:
    card = posted_card(world, mention_id)
    before = len(world.slack.views_for(user.user_id))
    user.click(channel=card.channel, ts=card.ts, action_id=action)
    world.slack.wait_for(lambda s: len(s.views_for(user.user_id)) > before)
    return user.last_view_for(user.user_id)


def _submit(world: FakeWorld, user: SlackUser, view: dict[str, Any], text: str) -> Draft:
    response = user.submit_view(view["id"], {"text": {"value": text}})
    assert response.done, response
    world.slack.wait_for(lambda _: (d := latest_draft(world)) is not None and d.text == text)
    world.deliver()
    draft = latest_draft(world)
    assert draft is not None
    return draft


def _approval_blocks(world: FakeWorld, draft: Draft) -> str:
    with transaction(world.db) as session:
        card = session.get(SlackMessage, draft.card_id)
        assert card is not None and card.ts is not None
    return _dumps(world.slack.message(card.channel, card.ts)["blocks"])


def _replied(world: FakeWorld, alice: SlackUser, bob: SlackUser, mention_id: str) -> Draft:
    """alice replies, bob approves, the publisher posts it."""
    draft = _submit(world, alice, _open_form(world, alice, mention_id), "@dana Sorry! On it now.")
    assert "publish queue" in click_card(world, bob, draft, DraftAction.APPROVE)
    assert publish(world) == 1
    return get_draft(world, draft.id)


def test_the_reply_form_and_the_approval_card_quote_the_tweet_as_written(
    world: FakeWorld,
) -> None:
    mention_id = carded(world, "@acme Tom & Jerry <3 > your app")
    alice = world.user("U0ALICE", "alice")
    card = _shown(world, mention_id)
    assert ESCAPED_ONCE in card and "&amp;amp;" not in card
    # "respond by" shows the date when it is not today, in the viewer's zone
    assert re.search(r"respond by <!date\^\d+\^\{date_short_pretty\} \{time\}\|", card)

    view = _open_form(world, alice, mention_id)
    shown = _dumps(view["blocks"])
    assert view["title"]["text"] == "Reply on X"
    assert ESCAPED_ONCE in shown and "&amp;amp;" not in shown
    assert "@dana" in shown and f"https://x.com/dana/status/{mention_id}" in shown
    # A reply belongs to its mention's segment and goes out when approved: no such fields.
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert "segment" not in inputs and "schedule" not in inputs
    assert {"text", "alternative_2", "alternative_3"} <= set(inputs)

    draft = _submit(world, alice, view, "@dana We hear you, looking now")
    approval = _approval_blocks(world, draft)
    assert ESCAPED_ONCE in approval and "&amp;amp;" not in approval
    assert approval.index(ESCAPED_ONCE) < approval.index("We hear you")  # context comes first

    card = _shown(world, mention_id)
    assert "Reply drafted by <@U0ALICE> — waiting for approval" in card
    with transaction(world.db) as session:
        approval_card = session.get(SlackMessage, draft.card_id)
        assert approval_card is not None and approval_card.ts is not None
    link = f"https://fake.slack.com/archives/{approval_card.channel}/p{approval_card.ts.replace('.', '')}"
    assert link in card
    assert world.slack.violations == []


def test_a_posted_reply_moves_the_mention_to_replied_and_its_card_says_who(
    world: FakeWorld,
) -> None:
    mention_id = carded(world)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    posted = _replied(world, alice, bob, mention_id)
    assert posted.state == DraftState.POSTED and posted.tweet_id is not None

    mention = world.mention(mention_id)
    assert mention.state == MentionState.REPLIED and mention.replied_at is not None
    card = _shown(world, mention_id)
    assert "*Replied*" in card and "respond by" not in card
    view_on_x = f"<https://x.com/acme/status/{posted.tweet_id}|view on X>"
    assert f"Replied by <@U0ALICE>, approved by <@U0BOB> — {view_on_x}" in card
    assert "waiting for approval" not in card
    buttons = _buttons(world, mention_id)
    assert MentionAction.RESOLVE in buttons and MentionAction.CLAIM not in buttons
    assert [e.action for e in audit_entries(world, subject=f"mention:{mention_id}")] == [
        "mention.ingest",
        "mention.claim",  # Reply claimed it for alice
        "mention.replied",
    ]


def test_a_rejected_reply_says_so_on_the_mention_card(world: FakeWorld) -> None:
    mention_id = carded(world)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    draft = _submit(
        world, alice, _open_form(world, alice, mention_id), "@dana we will refund you twice"
    )
    with transaction(world.db) as session:
        approval = session.get(SlackMessage, draft.card_id)
        assert approval is not None and approval.ts is not None
    bob.click(channel=approval.channel, ts=approval.ts, action_id=DraftAction.REJECT)
    world.slack.wait_for(lambda s: s.views_for("U0BOB"))
    bob.submit_view(bob.last_view_for("U0BOB")["id"], {"reason": {"value": "No promises"}})
    world.slack.wait_for(lambda _: get_draft(world, draft.id).state == DraftState.REJECTED)
    world.deliver()
    card = _shown(world, mention_id)
    assert "Reply by <@U0ALICE> was rejected by <@U0BOB>: No promises" in card
    assert world.mention(mention_id).state == MentionState.CLAIMED  # still alice's to answer


def test_a_customers_follow_up_reopens_the_conversation_in_the_thread(world: FakeWorld) -> None:
    mention_id = carded(world, "@acme my order never arrived")
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    posted = _replied(world, alice, bob, mention_id)
    original = world.card(mention_id)

    follow = world.x.add_tweet(
        author="dana", text="@acme still nothing & no email", in_reply_to=posted.tweet_id
    )
    follow_id = str(follow["id"])
    world.clock.advance(seconds=world.config.poll_seconds)  # type: ignore[attr-defined]
    world.poll()
    world.deliver()

    again = world.mention(follow_id)
    assert again.follow_up_of == mention_id and again.state == MentionState.OPEN
    assert again.segment == world.mention(mention_id).segment
    card = world.card(follow_id)
    assert card.id != original.id and card.thread_root_id == original.id  # in the thread
    message = world.slack.message(card.channel, str(card.ts))
    assert message["thread_ts"] == original.ts
    assert "<@U0ALICE> answered this conversation" in _dumps(message["blocks"])
    assert message["text"].startswith("<@U0ALICE>")  # Slack notifies her from the text
    assert "wrote again" in _shown(world, mention_id)  # the original card says so
    assert world.mention(mention_id).state == MentionState.REPLIED

    # Replying to the follow-up quotes the conversation so far: theirs and ours, oldest first.
    shown = _dumps(_open_form(world, alice, follow_id)["blocks"])
    earlier = shown.index("Earlier in this conversation")
    assert earlier < shown.index("my order never arrived") < shown.index("Sorry! On it now.")
    assert "(us)" in shown and "still nothing &amp; no email" in shown


def test_reply_claims_an_unclaimed_mention_and_refuses_when_another_has_it(
    world: FakeWorld,
) -> None:
    first, second = carded(world), carded(world, "@acme refund please", author="erin")
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")

    _open_form(world, alice, first)
    assert world.mention(first).claimed_by == "U0ALICE"
    world.deliver()
    assert "Claimed* by <@U0ALICE>" in _shown(world, first)

    card = posted_card(world, second)
    bob.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM)
    world.slack.wait_for(lambda _: world.mention(second).claimed_by == "U0BOB")
    world.deliver()
    views_before = len(world.slack.views_for("U0ALICE"))
    note = said(
        world,
        alice,
        lambda: alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.REPLY),
    )
    assert "<@U0BOB> has claimed this" in note
    assert len(world.slack.views_for("U0ALICE")) == views_before  # no form opened
    assert world.mention(second).claimed_by == "U0BOB"


def test_author_history_counts_earlier_mentions_and_asks_x_once(world: FakeWorld) -> None:
    world.x.add_user("dana", name="Dana & Co", followers=1234, verified=True)
    carded(world, "@acme first try")
    carded(world, "@acme second try")
    latest = carded(world, "@acme third try")
    alice = world.user("U0ALICE", "alice")
    author_id = world.mention(latest).author_id

    def history() -> str:
        view = _open_form(world, alice, latest, MentionAction.HISTORY)
        world.slack.wait_for(
            lambda s: "Asking X" not in _dumps(s.view(view["id"])["blocks"]), timeout=10
        )
        return _dumps(world.slack.view(view["id"])["blocks"])

    shown = history()
    assert "2 earlier mentions in brandbot" in shown
    assert "second try" in shown and "first try" in shown and "Open" in shown
    assert "1,234 followers" in shown and "verified" in shown and "not verified" not in shown
    assert "Dana &amp; Co" in shown
    assert history().count("1,234 followers") == 1
    lookups = [c for c in world.x.calls if c.path == f"/2/users/{author_id}"]
    assert len(lookups) == 1  # cached in x_author: never asked again

    # X failing shows so, and keeps the rest; it is asked again next time.
    other = carded(world, "@acme hello", author="erin")
    world.x.fail(f"/2/users/{world.mention(other).author_id}", status=503, count=5)
    view = _open_form(world, alice, other, MentionAction.HISTORY)
    world.slack.wait_for(lambda s: "X didn" in _dumps(s.view(view["id"])["blocks"]))
    failed = _dumps(world.slack.view(view["id"])["blocks"])
    assert "X didn't answer; try again" in failed and "No earlier mentions" in failed


def test_a_search_hit_that_does_not_mention_us_offers_quote_and_open_on_x(
    world: FakeWorld,
) -> None:
    mention_id = carded(world, "acme outage in Leeds again", author="finn")
    mention = world.mention(mention_id)
    assert not mention.summoned
    card = _shown(world, mention_id)
    assert "X only lets @acme reply to tweets that mention it — quote it instead" in card
    buttons = _buttons(world, mention_id)
    assert MentionAction.QUOTE in buttons and MentionAction.REPLY not in buttons
    assert MentionAction.OPEN_ON_X in buttons and f'"url": "{mention.url}"' in card

    alice = world.user("U0ALICE", "alice")
    view = _open_form(world, alice, mention_id, MentionAction.QUOTE)
    assert view["title"]["text"] == "Quote on X" and "outage in Leeds" in _dumps(view)
    assert world.mention(mention_id).claimed_by == "U0ALICE"
    draft = _submit(world, alice, view, "Sorry Leeds, engineers are on it")
    assert draft.quote_of == mention_id and draft.in_reply_to is None
    assert "Quote drafted by <@U0ALICE> — waiting for approval" in _shown(world, mention_id)


def _force(world: FakeWorld, mention_id: str, **values: Any) -> None:
    """Put the mention in a state directly (as any path to it would leave it) and redraw."""
    now = world.clock.now()
    with transaction(world.db) as session:
        session.execute(update(Mention).where(col(Mention.id) == mention_id).values(**values))
        mention = session.get(Mention, mention_id)
        assert mention is not None
        outbox.mark_changed(session, mention.card_id, now=now)
    world.deliver()


def test_every_card_in_every_state_has_a_button_or_says_why_not(world: FakeWorld) -> None:
    searched = carded(world, "acme outage in Leeds again", author="finn")  # quote, not reply
    mention_id = carded(world)
    now = world.clock.now()
    people = {"claimed_by": "U0ALICE", "claimed_at": now}
    closed = {"closed_by": "U0ALICE", "closed_at": now}
    states: list[tuple[MentionState, dict[str, Any]]] = [
        (MentionState.OPEN, {}),
        (MentionState.CLAIMED, people),
        (MentionState.REPLIED, people | {"replied_at": now}),
        (MentionState.RESOLVED, closed),
        (MentionState.DISMISSED, closed | {"dismiss_reason": "Spam or bot"}),
    ]
    assert {s for s, _ in states} == set(MentionState)
    for subject in (mention_id, searched):
        for state, values in states:
            _force(world, subject, state=state, **values)
            buttons = _buttons(world, subject)
            assert buttons, f"a {state} card has no button"
            assert MentionAction.HISTORY in buttons
    # A card left behind by a reroute has no buttons, and says where the mention went.
    _force(world, mention_id, state=MentionState.OPEN)
    old = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")
    alice.click(
        channel=old.channel, ts=old.ts, action_id=MentionAction.REROUTE, option="product_promotion"
    )
    world.slack.wait_for(lambda _: world.mention(mention_id).segment == "product_promotion")
    world.deliver()
    left = world.slack.message(old.channel, old.ts)["blocks"]
    assert not [b for b in left if b["type"] == "actions"]
    assert "Moved to <#C0PROMO>" in _dumps(left)


def test_our_own_reply_is_never_carded_as_a_mention_when_a_search_finds_it(
    world: FakeWorld,
) -> None:
    """Our reply says "outage" and names the customer: customer_relations' keyword search finds
    it (it says acme), but a brand account's own post is not a customer's mention."""
    mention_id = carded(world, "@acme outage in Leeds again")
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    text = "@dana Sorry about the outage, acme engineers are on it"
    draft = _submit(world, alice, _open_form(world, alice, mention_id), text)
    assert "publish queue" in click_card(world, bob, draft, DraftAction.APPROVE)
    assert publish(world) == 1
    ours = world.x.posted_by("acme")[0]["id"]

    world.clock.advance(seconds=world.config.poll_seconds)  # type: ignore[attr-defined]
    world.poll()
    world.deliver()
    with transaction(world.db) as session:
        assert session.get(Mention, ours) is None
    assert world.mention(mention_id).state == MentionState.REPLIED  # no follow-up of itself
