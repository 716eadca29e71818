"""An adversarial review of issue 10's inbox and draft paths, over the fakes: stale or forged
forms, permission holes, escaping. Each test is a hole that was found and fixed."""

from __future__ import annotations

from functools import partial
from typing import Any

from support import carded, posted_card

from bot.core.models import MentionState
from bot.fakes.drafting import latest_draft, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.inbox_controls import InboxAction
from bot.slack.cards.mention_card import MentionAction


def _open_reply_form(world: FakeWorld, user: SlackUser, mention_id: str) -> dict[str, Any]:
    card = posted_card(world, mention_id)
    before = len(world.slack.views_for(user.user_id))
    user.click(channel=card.channel, ts=card.ts, action_id=MentionAction.REPLY)
    world.slack.wait_for(lambda s: len(s.views_for(user.user_id)) > before)
    return user.last_view_for(user.user_id)


def _click_and_wait(world: FakeWorld, user: SlackUser, mention_id: str, action: str) -> None:
    before = world.mention(mention_id).version
    card = posted_card(world, mention_id)
    user.click(channel=card.channel, ts=card.ts, action_id=action)
    world.slack.wait_for(lambda _: world.mention(mention_id).version > before)
    world.deliver()


def test_a_reply_form_left_open_cannot_answer_a_mention_someone_else_has_claimed_since(
    world: FakeWorld,
) -> None:
    """Replying needs the claim when the draft is made, not only when the form opens: Alice's
    form, left open after she released the mention and Bob took it, must not put a second
    answer to the customer up for approval under Bob's claim."""
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    mention_id = carded(world)
    alices_form = _open_reply_form(world, alice, mention_id)  # claims it for Alice
    world.deliver()
    assert world.mention(mention_id).claimed_by == "U0ALICE"
    _click_and_wait(world, alice, mention_id, MentionAction.RELEASE)
    _open_reply_form(world, bob, mention_id)  # claims it for Bob
    assert world.mention(mention_id).claimed_by == "U0BOB"

    refused = alice.submit_view(alices_form["id"], {})
    errors = refused.errors
    assert any("<@U0BOB> has claimed this" in e for e in errors.values()), refused
    assert latest_draft(world) is None


def test_a_reply_form_cannot_answer_a_mention_dismissed_since_it_opened(world: FakeWorld) -> None:
    alice = world.user("U0ALICE", "alice")
    mention_id = carded(world)
    form = _open_reply_form(world, alice, mention_id)
    world.deliver()
    card = posted_card(world, mention_id)
    alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.DISMISS)
    world.slack.wait_for(lambda s: len(s.views_for("U0ALICE")) > 1)
    dismiss_form = alice.last_view_for("U0ALICE")
    alice.submit_view(
        dismiss_form["id"], {"reason": {"reason_choice": {"selected_option": {"value": "spam"}}}}
    )
    world.slack.wait_for(lambda _: world.mention(mention_id).state == MentionState.DISMISSED)

    refused = alice.submit_view(form["id"], {})
    errors = refused.errors
    assert any("reopen it before replying" in e for e in errors.values()), refused
    assert latest_draft(world) is None


def test_the_note_form_quotes_the_tweet_escaped_so_markup_in_it_is_shown_not_rendered(
    world: FakeWorld,
) -> None:
    alice = world.user("U0ALICE", "alice")
    mention_id = carded(world, "@acme <@U0BOB> <!channel> Q&A is down &amp; broken")
    card = posted_card(world, mention_id)
    alice.click(channel=card.channel, ts=card.ts, action_id=InboxAction.NOTE)
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    quoted = alice.last_view_for("U0ALICE")["blocks"][0]["text"]["text"]
    assert "<@U0BOB>" not in quoted and "<!channel>" not in quoted
    assert "&lt;@U0BOB&gt; &lt;!channel&gt; Q&amp;A is down &amp;amp; broken" in quoted


def test_a_saved_reply_named_with_markup_is_announced_escaped_and_pings_nobody(
    world: FakeWorld,
) -> None:
    """The name of a saved reply is an admin's free text: the channel announcement must show
    "<!here>" as typed, not notify the whole channel (Slack sends it as &lt;!here&gt;)."""
    admin = world.user("U0ADMIN", "admin")
    said(
        world,
        admin,
        partial(
            admin.command,
            "/brand",
            "replies customer_relations add R&amp;D &lt;!here&gt; | Thanks {author}",
            channel="C0CUSTOMER",
        ),
    )
    world.deliver()
    announced = world.slack.find_messages(lambda m: "saved reply" in m.get("text", ""))
    assert announced, "the change was not announced"
    text = announced[-1]["text"]
    assert "<!here>" not in text and "R&amp;D &lt;!here&gt;" in text
