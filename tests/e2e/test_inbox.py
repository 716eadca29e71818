"""The mention card as a shared inbox, clicked by simulated people: Assign to…, Note, Tags, saved
replies in the reply form, and the bulk actions of the overflow menu."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from sqlmodel import select
from support import TEST_CONFIG, audit_entries, carded, posted_card

from bot.core.db import transaction
from bot.core.models import ConfigOverride, DraftState, MentionNote, MentionState
from bot.fakes.drafting import approval_card, get_draft, latest_draft, publish, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.inbox_controls import BulkChoice, InboxAction
from bot.slack.cards.inbox_modals import SAVED_REPLY_ACTION
from bot.slack.cards.mention_card import MentionAction
from policies.config import BrandConfig, parse_config

INBOX = """    tags: [billing, outage, praise]
    saved_replies:
      - {name: Outage, text: "Sorry {author}, {brand} is on it. Thanks for your patience, {author_name}!"}
      - {name: Promise, text: "{author} we guarantee a fix today"}
"""


@pytest.fixture
def config() -> BrandConfig:
    """The test config, with tags and saved replies for customer relations."""
    anchor = "    first_response_minutes: 15\n"
    assert TEST_CONFIG.count(anchor) == 1
    return parse_config(TEST_CONFIG.replace(anchor, anchor + INBOX), filename="test.yaml")


def _shown(world: FakeWorld, mention_id: str) -> str:
    card = posted_card(world, mention_id)
    return str(world.slack.message(card.channel, card.ts)["blocks"])


def _click(world: FakeWorld, user: SlackUser, mention_id: str, action: str, **how: Any) -> str:
    """Use a control on the mention's card; the ephemeral answer the person got."""
    card = posted_card(world, mention_id)
    return said(
        world, user, lambda: user.click(channel=card.channel, ts=card.ts, action_id=action, **how)
    )


def _ephemeral_count(world: FakeWorld, user: SlackUser) -> int:
    return sum(1 for e in world.slack.ephemerals if e["user"] == user.user_id)


def test_assign_tells_the_assignee_by_dm_and_the_card_shows_it_and_a_non_member_is_refused(
    world: FakeWorld,
) -> None:
    # Customer relations names no responders: anyone in its channel may be assigned.
    world.slack.add_channel("C0CUSTOMER", "customer", members=["U0ALICE", "U0BOB"])
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    world.user("U0ZED", "zed")  # in the workspace, not in the channel
    mention_id = carded(world)

    answer = _click(world, alice, mention_id, InboxAction.ASSIGN, option="U0BOB")
    assert answer == "Assigned to <@U0BOB> and told them by DM."
    mention = world.mention(mention_id)
    assert (mention.assigned_to, mention.assigned_by) == ("U0BOB", "U0ALICE")
    assert mention.state == MentionState.OPEN and mention.claimed_by is None  # a request only
    world.deliver()
    assert "Assigned to <@U0BOB> by <@U0ALICE>" in _shown(world, mention_id)
    dms = world.slack.messages.get("U0BOB", [])
    assert len(dms) == 1 and "<@U0ALICE> assigned you a mention from @dana" in dms[0]["text"]
    assert "outage in Leeds" in dms[0]["text"]

    refused = _click(world, bob, mention_id, InboxAction.ASSIGN, option="U0ZED")
    assert refused == "<@U0ZED> can't be assigned this: only members of <#C0CUSTOMER> can."
    assert world.mention(mention_id).assigned_to == "U0BOB"
    assert audit_entries(world, action="mention.refused")[-1].subject == f"mention:{mention_id}"

    assert "no longer assigned" in _click(world, bob, mention_id, InboxAction.UNASSIGN)
    assert world.mention(mention_id).assigned_to is None
    world.deliver()
    assert "Assigned to" not in _shown(world, mention_id)
    assigned = audit_entries(world, action="mention.assign")
    assert len(assigned) == 1 and json.loads(assigned[0].after or "{}")["assigned_to"] == "U0BOB"
    assert len(audit_entries(world, action="mention.unassign")) == 1
    assert len(world.slack.messages.get("U0BOB", [])) == 1  # unassigning sends no DM


def test_only_a_segments_responders_can_be_assigned_and_only_by_someone_who_may_act(
    world: FakeWorld,
) -> None:
    casey, outsider = world.user("U0CRISIS1", "casey"), world.user("U0ALICE", "alice")
    world.user("U0CRISIS2", "cris")
    mention_id = carded(world, text="@acme you got hacked, this is a disgrace, lawsuit")
    assert posted_card(world, mention_id).channel == "C0CRISIS"

    assert (
        _click(world, outsider, mention_id, InboxAction.ASSIGN, option="U0CRISIS2")
        == "Only this segment's responders can do that."
    )
    refused = _click(world, casey, mention_id, InboxAction.ASSIGN, option="U0ALICE")
    assert refused == (
        "<@U0ALICE> can't be assigned this: only Crisis management's responders "
        "(<!subteam^S0CRISIS>) can."
    )
    assert world.mention(mention_id).assigned_to is None
    _click(world, casey, mention_id, InboxAction.ASSIGN, option="U0CRISIS2")
    assert world.mention(mention_id).assigned_to == "U0CRISIS2"


def test_a_note_is_posted_in_the_cards_thread_audited_and_never_reaches_x(
    world: FakeWorld,
) -> None:
    alice = world.user("U0ALICE", "alice")
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice.click(channel=card.channel, ts=card.ts, action_id=InboxAction.NOTE)
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")

    blank = alice.submit_view(view["id"], {"note": {"note_text": "   "}})
    assert blank.errors == {"note": "Write the note first."}  # the form stays open

    secret = "VIP customer, account 4471: call them back before replying"
    assert alice.submit_view(view["id"], {"note": {"note_text": secret}}).done
    world.slack.wait_for(lambda _: len(audit_entries(world, action="mention.note")) == 1)
    world.deliver()
    in_thread = world.slack.find_messages(lambda m: m["thread_ts"] == card.ts)
    assert len(in_thread) == 1
    assert in_thread[0]["text"].startswith(
        ":memo: Internal note by <@U0ALICE> — never sent to X\n>VIP customer"
    )
    entry = audit_entries(world, action="mention.note")[0]
    assert (
        entry.subject == f"mention:{mention_id}"
        and json.loads(entry.after or "{}")["text"] == secret
    )
    with transaction(world.db) as session:
        assert [n.text for n in session.exec(select(MentionNote))] == [secret]
    # Nothing about the note went to X: no request carried it, nothing was posted.
    assert world.x.calls and not any(
        "4471" in json.dumps([c.params, c.json, c.path]) for c in world.x.calls
    )
    assert world.x.posted_by("acme") == []
    assert world.mention(mention_id).state == MentionState.OPEN


def test_tags_are_saved_and_shown_and_an_unconfigured_tag_is_refused(world: FakeWorld) -> None:
    alice = world.user("U0ALICE", "alice")
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice.click(
        channel=card.channel, ts=card.ts, action_id=InboxAction.TAGS, options=["outage", "billing"]
    )
    world.slack.wait_for(lambda _: world.mention(mention_id).tags is not None)
    assert json.loads(world.mention(mention_id).tags or "") == ["billing", "outage"]
    world.deliver()
    assert "Tags: `billing`, `outage`" in _shown(world, mention_id)

    # A forged menu choice: the server checks the tag against the segment's configuration.
    forged = {
        "action_id": InboxAction.TAGS,
        "block_id": f"inbox:{mention_id}",
        "type": "multi_static_select",
        "selected_options": [{"value": "vip", "text": {"type": "plain_text", "text": "vip"}}],
    }
    answer = said(
        world,
        alice,
        lambda: alice.forge_action(
            channel=card.channel,
            ts=card.ts,
            action_id=InboxAction.TAGS,
            extra={"actions": [forged]},
        ),
    )
    assert (
        answer
        == "`vip` is not a tag of Customer relations; its tags: `billing`, `outage`, `praise`."
    )
    assert json.loads(world.mention(mention_id).tags or "") == ["billing", "outage"]
    tagged = audit_entries(world, action="mention.tag")
    assert len(tagged) == 1 and json.loads(tagged[0].after or "{}")["tags"] == ["billing", "outage"]

    # A segment without tags offers no tag menu.
    other = carded(world, text="@acme you got hacked, this is a disgrace, lawsuit", author="erin")
    assert InboxAction.TAGS.value not in _shown(world, other)


def _open_reply_form(world: FakeWorld, user: SlackUser, mention_id: str) -> dict[str, Any]:
    card = posted_card(world, mention_id)
    before = len(world.slack.views_for(user.user_id))
    user.click(channel=card.channel, ts=card.ts, action_id=MentionAction.REPLY)
    world.slack.wait_for(lambda s: len(s.views_for(user.user_id)) > before)
    return user.last_view_for(user.user_id)


def _pick_saved_reply(
    world: FakeWorld, user: SlackUser, view: dict[str, Any], name: str, **typed: str
) -> dict[str, Any]:
    """Pick a saved reply in the open reply form; the form as Slack then shows it."""
    updates = len(world.slack.calls_to("views.update"))
    user.pick_in_view(view["id"], action_id=SAVED_REPLY_ACTION, option=name, typed=typed)
    world.slack.wait_for(lambda s: len(s.calls_to("views.update")) > updates)
    return world.slack.view(view["id"])


def _input(view: dict[str, Any], block_prefix: str) -> dict[str, Any]:
    return next(
        b
        for b in view["blocks"]
        if b["type"] == "input" and b["block_id"].split("~")[0] == block_prefix
    )


def test_a_saved_reply_fills_the_text_with_placeholders_then_is_approved_and_posted(
    world: FakeWorld,
) -> None:
    tweet = world.x.add_tweet(author="dana", text="@acme outage in Leeds, nothing works")
    world.poll()
    world.deliver()
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    view = _open_reply_form(world, alice, tweet["id"])
    menu = next(b for b in view["blocks"] if b.get("block_id") == "saved_reply")
    assert [o["value"] for o in menu["elements"][0]["options"]] == ["Outage", "Promise"]

    filled = _pick_saved_reply(world, alice, view, "Outage", alternative_2="@dana Or: DM us.")
    text_input = _input(filled, "text")
    assert text_input["block_id"] == "text~2"  # a new block id: Slack shows the new value
    name = world.mention(tweet["id"]).author_name or "dana"  # as X names the author
    expected = f"Sorry @dana, Acme is on it. Thanks for your patience, {name}!"
    assert text_input["element"]["initial_value"] == expected
    assert _input(filled, "alternative_2")["element"]["initial_value"] == "@dana Or: DM us."

    assert alice.submit_view(view["id"], {}).done
    world.slack.wait_for(lambda _: latest_draft(world) is not None)
    world.deliver()
    draft = latest_draft(world)
    assert draft is not None and draft.in_reply_to == tweet["id"]
    assert json.loads(draft.candidates or "[]") == [expected, "@dana Or: DM us."]
    card = approval_card(world, draft)
    bob.click(channel=card.channel, ts=str(card.ts), action_id=f"{DraftAction.APPROVE}_1")
    world.slack.wait_for(lambda _: get_draft(world, draft.id).state == DraftState.APPROVED)
    assert publish(world) == 1
    assert [t["text"] for t in world.x.posted_by("acme")] == [expected]


def test_a_saved_reply_with_a_banned_term_is_refused_by_lint(world: FakeWorld) -> None:
    tweet = world.x.add_tweet(author="dana", text="@acme will this be fixed today?")
    world.poll()
    world.deliver()
    alice = world.user("U0ALICE", "alice")
    view = _open_reply_form(world, alice, tweet["id"])
    filled = _pick_saved_reply(world, alice, view, "Promise")
    assert _input(filled, "text")["element"]["initial_value"] == "@dana we guarantee a fix today"
    refused = alice.submit_view(view["id"], {})
    errors = refused.errors
    assert list(errors) == ["text~2"] and "guarantee" in errors["text~2"]
    assert latest_draft(world) is None


def _mentions_by(world: FakeWorld, author: str, texts: list[str]) -> list[str]:
    return [carded(world, text, author=author) for text in texts]


def test_dismiss_all_from_an_author_dismisses_each_audits_each_and_skips_anothers_claim(
    world: FakeWorld,
) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    spam = _mentions_by(world, "spammy", ["@acme refund now", "@acme refund!!", "@acme REFUND"])
    other = carded(world, "@acme outage again", author="erin")
    _click_plain(world, bob, spam[1], MentionAction.CLAIM)
    world.deliver()

    card = posted_card(world, spam[0])
    alice.click(
        channel=card.channel,
        ts=card.ts,
        action_id=InboxAction.BULK,
        option=BulkChoice.DISMISS_AUTHOR,
    )
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    assert "Dismiss *3* open or claimed mentions from *@spammy*" in str(view["blocks"])
    seen = _ephemeral_count(world, alice)
    reason = {"reason": {"reason_choice": {"selected_option": {"value": "spam"}}}}
    assert alice.submit_view(view["id"], reason).done
    world.slack.wait_for(lambda _: _ephemeral_count(world, alice) > seen)
    summary = [e for e in world.slack.ephemerals if e["user"] == "U0ALICE"][-1]["text"]
    assert summary.startswith("Dismissed 2 mentions.\nSkipped 1:")
    assert "<@U0BOB> has claimed this" in summary

    states = [world.mention(m).state for m in spam]
    assert states == [MentionState.DISMISSED, MentionState.CLAIMED, MentionState.DISMISSED]
    assert world.mention(other).state == MentionState.OPEN
    dismissed = audit_entries(world, action="mention.dismiss")
    assert sorted(e.subject for e in dismissed) == sorted(
        f"mention:{m}" for m in (spam[0], spam[2])
    )
    world.deliver()
    for mention_id in (spam[0], spam[2]):
        assert "Dismissed* by <@U0ALICE>: Spam or bot" in _shown(world, mention_id)


def _click_plain(world: FakeWorld, user: SlackUser, mention_id: str, action: str) -> None:
    card = posted_card(world, mention_id)
    before = world.mention(mention_id).version
    user.click(channel=card.channel, ts=card.ts, action_id=action)
    world.slack.wait_for(lambda _: world.mention(mention_id).version > before)


def test_resolve_selected_resolves_only_the_chosen_mentions_each_audited(world: FakeWorld) -> None:
    alice = world.user("U0ALICE", "alice")
    first = carded(world, "@acme refund please", author="dana")
    second = carded(world, "@acme outage in York", author="erin")
    third = carded(world, "@acme outage in Hull", author="finn")
    card = posted_card(world, first)
    alice.click(
        channel=card.channel,
        ts=card.ts,
        action_id=InboxAction.BULK,
        option=BulkChoice.RESOLVE_SELECTED,
    )
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    menu = _input(view, "mentions")["element"]
    assert [o["value"] for o in menu["options"]] == [third, second, first]  # newest first
    assert [o["value"] for o in menu["initial_options"]] == [first]

    chosen = [{"value": m, "text": {"type": "plain_text", "text": m}} for m in (first, third)]
    seen = _ephemeral_count(world, alice)
    values = {"mentions": {"chosen": {"selected_options": chosen}}}
    assert alice.submit_view(view["id"], values).done
    world.slack.wait_for(lambda _: _ephemeral_count(world, alice) > seen)
    assert [e for e in world.slack.ephemerals if e["user"] == "U0ALICE"][-1]["text"] == (
        "Resolved 2 mentions."
    )
    assert [world.mention(m).state for m in (first, second, third)] == [
        MentionState.RESOLVED,
        MentionState.OPEN,
        MentionState.RESOLVED,
    ]
    resolved = audit_entries(world, action="mention.resolve")
    assert sorted(e.subject for e in resolved) == sorted(f"mention:{m}" for m in (first, third))


def _brand(world: FakeWorld, user: SlackUser, text: str) -> str:
    return said(world, user, partial(user.command, "/brand", text, channel="C0CUSTOMER"))


def test_admins_edit_saved_replies_and_tags_from_slack_and_others_are_refused(
    world: FakeWorld,
) -> None:
    admin, alice = world.user("U0ADMIN", "admin"), world.user("U0ALICE", "alice")
    added = _brand(
        world, admin, "replies customer_relations add Thanks | Thanks {author}, glad it's sorted!"
    )
    assert (
        added == "Saved reply “Thanks” added: the reply form of Customer relations offers it now."
    )
    listing = _brand(world, admin, "replies customer_relations")
    assert "*Thanks* — Thanks {author}, glad it's sorted!" in listing
    changed = audit_entries(world, action="config.changed")
    assert changed[-1].subject == "segment:customer_relations"
    assert "Thanks" in (changed[-1].after or "")
    with transaction(world.db) as session:
        stored = session.exec(
            select(ConfigOverride).where(ConfigOverride.key == "saved_replies")
        ).one()
        assert [r["name"] for r in json.loads(stored.value)] == ["Outage", "Promise", "Thanks"]

    mention_id = carded(world)
    view = _open_reply_form(world, alice, mention_id)
    menu = next(b for b in view["blocks"] if b.get("block_id") == "saved_reply")
    assert [o["value"] for o in menu["elements"][0]["options"]] == ["Outage", "Promise", "Thanks"]

    bad = _brand(world, admin, "replies customer_relations add Oops | Hi {customer}")
    assert "unknown placeholder {customer}" in bad
    assert "Only brandbot admins" in _brand(
        world, alice, "replies customer_relations add Mine | Hello {author}"
    )
    assert "Only brandbot admins" in _brand(
        world, alice, "replies customer_relations remove Thanks"
    )

    removed = _brand(world, admin, "replies customer_relations remove Promise")
    assert removed == "Saved reply “Promise” removed from Customer relations."
    assert world.runtime.services.inbox.saved_reply_names("customer_relations") == [
        "Outage",
        "Thanks",
    ]
    assert "no saved reply “Nope”" in _brand(world, admin, "replies customer_relations remove Nope")

    assert "now offer the tags: vip, billing" in _brand(
        world, admin, "tags customer_relations vip billing"
    )
    assert world.runtime.services.segments.view("customer_relations").tags == ("vip", "billing")
    assert "Only brandbot admins" in _brand(world, alice, "tags customer_relations none")
    help_text = _brand(world, admin, "help")
    assert "/brand replies <segment> add <name> | <text>" in help_text
    assert "/brand tags <segment>" in help_text


def test_a_long_note_full_of_ampersands_reaches_the_thread_clipped_whole(
    world: FakeWorld,
) -> None:
    """Escaping makes "&" five characters: a note that fits the form must still fit Slack's
    message, clipped before it would cut "&amp;" in half (the database keeps all of it)."""
    alice = world.user("U0ALICE", "alice")
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice.click(channel=card.channel, ts=card.ts, action_id=InboxAction.NOTE)
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    note = "&" * 3000  # the form's most, 15,000 characters when escaped
    assert alice.submit_view(view["id"], {"note": {"note_text": note}}).done
    world.slack.wait_for(lambda _: len(audit_entries(world, action="mention.note")) == 1)
    world.deliver()
    (posted,) = world.slack.find_messages(lambda m: m["thread_ts"] == card.ts)
    assert posted["text"].endswith("&amp;…") and len(posted["text"]) <= 3900
    with transaction(world.db) as session:
        assert [n.text for n in session.exec(select(MentionNote))] == [note]
