"""InboxService on a real database: assignment fails closed when Slack can't say who is in the
channel, bulk actions skip what changed or what someone else claimed (an admin's go through),
tags clear, saved replies are filled from the mention and only the segment's own are offered."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from support import TEST_CONFIG

from bot.core.errors import ActionRefused
from bot.core.models import MentionState
from bot.fakes.services import ServiceKit
from bot.slack.cards.inbox_modals import InboxContext
from bot.slack.directory import SLACK_UNAVAILABLE


def test_assigning_in_a_segment_without_responders_fails_closed_when_slack_cant_say(
    kit: ServiceKit,
) -> None:
    mention = kit.add_mention()
    kit.person("U0CAROL")
    kit.slack.fail_next("conversations.members", status=503, retry_after=None, count=5)

    with pytest.raises(ActionRefused) as refused:
        kit.inbox.assign(kit.on_mention("U0BOB", mention), "U0CAROL")

    assert str(refused.value) == SLACK_UNAVAILABLE
    assert kit.mention(mention.id).assigned_to is None
    after = json.loads(str(kit.audit("mention.refused")[-1].after))
    assert (after["attempted"], after["reason"]) == ("assign", SLACK_UNAVAILABLE)
    assert kit.audit("mention.assign") == []


def test_assigning_the_same_person_twice_says_so_and_changes_nothing(kit: ServiceKit) -> None:
    mention = kit.add_mention()
    kit.person("U0CAROL")
    kit.inbox.assign(kit.on_mention("U0BOB", mention), "U0CAROL")
    version = kit.mention(mention.id).version

    with pytest.raises(ActionRefused, match="already assigned to <@U0CAROL>"):
        kit.inbox.assign(kit.on_mention("U0BOB", kit.mention(mention.id)), "U0CAROL")
    assert kit.mention(mention.id).version == version
    assert len(kit.audit("mention.assign")) == 1


def test_bulk_resolve_skips_a_mention_closed_meanwhile_and_anothers_claim_but_not_for_an_admin(
    kit: ServiceKit,
) -> None:
    origin = kit.add_mention("@acme one")
    closed = kit.add_mention("@acme two", state=MentionState.RESOLVED)
    claimed = kit.add_mention("@acme three", state=MentionState.CLAIMED, claimed_by="U0CAROL")
    ids = [origin.id, closed.id, claimed.id]

    outcome = kit.inbox.resolve_selected(kit.on_mention("U0BOB", origin), ids)

    assert [m.id for m in outcome.done] == [origin.id]
    skipped = dict((m.id, why) for m, why in outcome.skipped)
    assert "it is resolved" in skipped[closed.id]
    assert skipped[claimed.id] == "<@U0CAROL> has claimed this; ask them or an admin."
    assert kit.mention(claimed.id).state == MentionState.CLAIMED

    by_admin = kit.inbox.resolve_selected(kit.on_mention("U0ADMIN", origin), [claimed.id])
    assert [m.id for m in by_admin.done] == [claimed.id] and by_admin.skipped == []
    assert kit.mention(claimed.id).state == MentionState.RESOLVED


def test_bulk_actions_act_only_within_the_segment_and_author_they_were_opened_for(
    kit: ServiceKit,
) -> None:
    origin = kit.add_mention("@acme refund")
    elsewhere = kit.add_mention("@acme was there a breach?", segment="crisis_management")
    click = kit.on_mention("U0BOB", origin)

    outcome = kit.inbox.resolve_selected(click, [elsewhere.id])
    assert outcome.done == [] and outcome.skipped[0][0].id == elsewhere.id
    assert kit.mention(elsewhere.id).state == MentionState.OPEN

    # A dismiss-all form whose list was tampered with dismisses nothing outside its author.
    context = InboxContext(origin.id, click.channel, click.message_ts, [elsewhere.id])
    dismissed = kit.inbox.dismiss_author(click, context, reason="spam", note="")
    assert dismissed.done == [] and kit.mention(elsewhere.id).state == MentionState.OPEN
    with pytest.raises(ActionRefused, match="Say why"):
        kit.inbox.dismiss_author(click, context, reason="other", note="")


def test_tags_clear_and_only_configured_ones_are_kept(make_kit: Callable[..., ServiceKit]) -> None:
    anchor = "    first_response_minutes: 15\n"
    kit = make_kit(TEST_CONFIG.replace(anchor, anchor + "    tags: [billing, lead]\n"))
    mention = kit.add_mention()
    kit.inbox.set_tags(kit.on_mention("U0BOB", mention), ["lead", "billing", "lead"])
    assert json.loads(str(kit.mention(mention.id).tags)) == ["billing", "lead"]
    kit.inbox.set_tags(kit.on_mention("U0BOB", kit.mention(mention.id)), [])
    assert kit.mention(mention.id).tags is None
    assert [json.loads(str(e.after))["tags"] for e in kit.audit("mention.tag")] == [
        ["billing", "lead"],
        [],
    ]


def test_saved_reply_text_is_filled_from_the_mention_and_unknown_names_are_refused(
    make_kit: Callable[..., ServiceKit],
) -> None:
    anchor = "    first_response_minutes: 15\n"
    replies = (
        "    saved_replies:\n"
        '      - {name: Hi, text: "Hi {author} ({author_name}), {brand} here from {account}"}\n'
    )
    kit = make_kit(TEST_CONFIG.replace(anchor, anchor + replies))
    mention = kit.add_mention()
    assert kit.inbox.saved_reply_names("customer_relations") == ["Hi"]
    assert kit.inbox.saved_reply_names("crisis_management") == []
    assert kit.inbox.saved_reply_text(mention.id, "Hi") == "Hi @dana (dana), Acme here from @acme"
    with pytest.raises(ActionRefused, match="no saved reply called 'Bye'"):
        kit.inbox.saved_reply_text(mention.id, "Bye")
    with pytest.raises(ActionRefused, match="replies to a mention"):
        kit.inbox.saved_reply_text(None, "Hi")
