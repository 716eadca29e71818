"""Admins steer segments from Slack with /brand — over the fakes, through the real app: each
subcommand's happy path and bad inputs, refusals for non-admins, overrides that survive a
restart, reach another replica and lose to /brand reset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from support import TEST_CONFIG, audit_entries, carded, posted_card

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import ConfigOverride, DraftState, MentionState
from bot.fakes.drafting import click_card, draft_via_slack, get_draft, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.mention_card import MentionAction
from bot.slack.cards.steering import SteeringAction
from bot.steering.service import ANNOUNCEMENT
from policies.search import segment_search_queries

OPS = "C0OPS"  # where the admin types: not a segment channel
NEW_CARE = "C0NEWCARE"


@pytest.fixture
def admin(world: FakeWorld) -> SlackUser:
    world.slack.add_channel(OPS, "brand-ops")
    world.slack.add_channel(NEW_CARE, "care-team", bot_member=False)
    return world.user("U0ADMIN", "ada")


def brand(world: FakeWorld, user: SlackUser, text: str) -> str:
    """/brand TEXT typed in the ops channel; the ephemeral answer."""
    return said(world, user, lambda: user.command("/brand", text, channel=OPS))


def refused(
    world: FakeWorld, admin: SlackUser, text: str, words: str, *, usage: str = "Usage: `/brand "
) -> None:
    """/brand TEXT is answered with `words` and the usage line, and nothing changes."""
    answer = brand(world, admin, text)
    assert words in answer and usage in answer, answer
    assert overrides(world) == {}
    assert audit_entries(world, action="config.changed") == []


def overrides(world: FakeWorld) -> dict[tuple[str, str], Any]:
    with transaction(world.db) as session:
        rows = session.scalars(select(ConfigOverride)).all()
        return {(r.scope, r.key): json.loads(r.value) for r in rows}


def announcements(world: FakeWorld, channel: str) -> list[str]:
    world.deliver()
    return [
        str(m.get("text"))
        for m in world.slack.messages.get(channel, [])
        if not m.get("blocks") and "<@U0ADMIN>" in str(m.get("text"))
    ]


def segment_config(world: FakeWorld, name: str = "customer_relations") -> Any:
    return world.runtime.services.segments.config.segments[name]


# -- help and the table -------------------------------------------------------------------------


def test_help_lists_every_subcommand_with_an_example_and_marks_admin_ones(
    world: FakeWorld, admin: SlackUser
) -> None:
    shown = brand(world, admin, "help")
    for sub in (
        "segments",
        "channel",
        "approvers",
        "approvals",
        "sla",
        "accounts",
        "follow",
        "route list",
        "route add",
        "route move",
        "route remove",
        "reset",
        "freeze",
        "unfreeze",
        "who",
    ):
        assert f"`/brand {sub}" in shown, sub
    assert "e.g. `/brand channel customer_relations #care-team`" in shown
    assert "(admins)" not in shown
    bob = world.user("U0BOB", "bob")
    theirs = brand(world, bob, "help")
    assert "`/brand channel <segment> <#channel>` — " in theirs and "_(admins)_" in theirs
    assert "You can use `/brand who`, `/brand report` and `/brand help`." in theirs
    assert brand(world, bob, "") == theirs
    assert brand(world, bob, "frobnicate").startswith("I don't know `/brand frobnicate`.")


def test_segments_shows_each_segment_and_marks_overridden_values(
    world: FakeWorld, admin: SlackUser
) -> None:
    carded(world, "@acme outage in Leeds")
    table = brand(world, admin, "segments")
    assert "*Customer relations* (`customer_relations`) — <#C0CUSTOMER>" in table
    assert "approvers: <!subteam^S0CARE> · needs 1 approval(s)" in table
    assert "*Crisis management* (`crisis_management`)" in table and "needs 2 approval(s)" in table
    assert "respond within 15 min · posts as @acme" in table
    assert "follows: mentions; keywords outage, refund" in table
    assert "1 open, 0 claimed" in table
    assert "overridden," not in table

    brand(world, admin, "sla customer_relations 20")
    table = brand(world, admin, "segments")
    assert "respond within 20 min _(overridden, set by ada at" in table


# -- channel ------------------------------------------------------------------------------------


def test_moving_a_segment_joins_the_channel_and_the_next_mention_lands_there(
    world: FakeWorld, admin: SlackUser
) -> None:
    old = carded(world, "@acme outage in Leeds")
    old_card = posted_card(world, old)
    assert old_card.channel == "C0CUSTOMER"

    answer = brand(world, admin, f"channel customer_relations <#{NEW_CARE}|care-team>")
    assert "Customer relations now posts in <#C0NEWCARE> (was <#C0CUSTOMER>)" in answer
    assert [c.args["channel"] for c in world.slack.calls_to("conversations.join")] == [NEW_CARE]
    assert overrides(world) == {("customer_relations", "channel"): NEW_CARE}

    # announced in both channels, by who did it
    (here,) = announcements(world, NEW_CARE)
    assert here.startswith("<@U0ADMIN> moved Customer relations here from <#C0CUSTOMER>")
    (there,) = announcements(world, "C0CUSTOMER")
    assert "moved Customer relations to <#C0NEWCARE>" in there

    # the next mention lands in the new channel at once; the old card still works
    new = carded(world, "@acme refund please, card charged twice")
    assert posted_card(world, new).channel == NEW_CARE
    bob = world.user("U0BOB", "bob")
    bob.click(channel=old_card.channel, ts=old_card.ts, action_id=MentionAction.CLAIM)
    world.slack.wait_for(lambda _: world.mention(old).state == MentionState.CLAIMED)
    world.deliver()
    assert world.card(old).channel == "C0CUSTOMER"

    # audited with before and after
    (entry,) = audit_entries(world, action="config.changed")
    assert entry.subject == "segment:customer_relations"
    assert '"channel":"C0CUSTOMER"' in (entry.before or "")
    assert '"channel":"C0NEWCARE"' in (entry.after or "")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("channel custmer_relations <#C0NEWCARE|care-team>", "did you mean 'customer_relations'?"),
        ("channel customer_relations #care-team", "'#care-team' is not a channel I can use"),
        ("channel customer_relations", "Name one channel."),
        ("channel", "Name a segment first."),
        ("channel customer_relations <#C0CUSTOMER|care>", "already uses <#C0CUSTOMER>"),
        ("channel customer_relations <#G0SECRET|secret>", "invite me first"),
        ("channel customer_relations <#C0OLD|old-news>", "is archived"),
    ],
)
def test_bad_channels_are_refused_with_the_usage_line_and_nothing_changes(
    world: FakeWorld, admin: SlackUser, text: str, words: str
) -> None:
    world.slack.add_channel("G0SECRET", "secret", bot_member=False)
    world.slack.add_channel("C0OLD", "old-news", archived=True)
    answer = brand(world, admin, text)
    assert words in answer, answer
    assert "Usage: `/brand channel <segment> <#channel>`" in answer or "did you mean" in answer
    assert overrides(world) == {}
    assert segment_config(world).channel == "C0CUSTOMER"
    assert audit_entries(world, action="config.changed") == []


def test_a_private_channel_the_bot_was_invited_to_works(world: FakeWorld, admin: SlackUser) -> None:
    world.slack.add_channel("G0PRIVATE", "care-private", bot_member=True)
    answer = brand(world, admin, "channel customer_relations <#G0PRIVATE|care-private>")
    assert "now posts in <#G0PRIVATE>" in answer
    assert world.slack.calls_to("conversations.join") == []


# -- approvers and approvals --------------------------------------------------------------------


def test_a_new_approver_group_counts_and_the_old_one_no_longer_does(
    world: FakeWorld, admin: SlackUser, clock: FakeClock
) -> None:
    world.slack.set_usergroup("S0NEWLEADS", ["U0DAN"])
    alice, bob, dan = (
        world.user("U0ALICE", "alice"),
        world.user("U0BOB", "bob"),
        world.user("U0DAN", "dan"),
    )
    draft = draft_via_slack(world, alice, "We are on it, sorry for the wait")
    answer = brand(world, admin, "approvers customer_relations <!subteam^S0NEWLEADS|@new-leads>")
    assert "approvers are now <!subteam^S0NEWLEADS>" in answer
    assert "that is every one of its 1 approver" in answer  # 1 approval, 1 approver: a warning
    (note,) = announcements(world, "C0CUSTOMER")
    assert "set who approves Customer relations's drafts: <!subteam^S0NEWLEADS>" in note

    refused = click_card(world, bob, draft, DraftAction.APPROVE)
    assert "not an approver" in refused
    assert get_draft(world, draft.id).state == DraftState.PENDING
    assert "publish queue" in click_card(world, dan, draft, DraftAction.APPROVE)
    assert get_draft(world, draft.id).state == DraftState.APPROVED


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("approvers customer_relations @ada", "I couldn't tell who '@ada' is"),
        ("approvers customer_relations", "Name at least one person or user group."),
        (
            "approvers crisis_management <@U0CRISIS1|c1>",
            "cannot need 2 approval(s): it has 1 approver",
        ),
        ("approvals customer_relations 3", "cannot need 3 approval(s): it has 2 approvers"),
        ("approvals customer_relations 0", "at least 1 approval"),
        ("approvals customer_relations two", "'two' is not a whole number"),
        ("approvals customer_relations", "Give one whole number."),
    ],
)
def test_approvals_that_could_never_be_given_are_refused(
    world: FakeWorld, admin: SlackUser, text: str, words: str
) -> None:
    refused(world, admin, text, words, usage="Usage: `/brand approv")


def test_approvals_equal_to_the_approvers_warn_and_lowering_is_announced(
    world: FakeWorld, admin: SlackUser
) -> None:
    answer = brand(world, admin, "approvals customer_relations 2")
    assert "now need 2 approval(s) (was 1)" in answer
    assert (
        ":warning: that is every one of its 2 approvers: a draft written by one of them" in answer
    )
    assert segment_config(world).approvals_required == 2

    lowered = brand(world, admin, "approvals crisis_management 1")
    assert "Crisis management's drafts now need 1 approval(s) (was 2)" in lowered
    (note,) = announcements(world, "C0CRISIS")
    assert note.startswith(":warning: <@U0ADMIN> lowered the approvals Crisis management's")


# -- sla, accounts, follow ------------------------------------------------------------------------


def test_sla_sets_the_response_target_the_next_card_shows(
    world: FakeWorld, admin: SlackUser
) -> None:
    assert "now aims to answer within 30 minutes (was 15)" in brand(
        world, admin, "sla customer_relations 30"
    )
    assert segment_config(world).first_response_minutes == 30
    mention = carded(world)
    assert (
        world.runtime.services.segments.view(world.mention(mention).segment).first_response_minutes
        == 30
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("sla customer_relations 0", "Input should be greater than or equal to 1 (got 0)"),
        ("sla customer_relations 20000", "Input should be less than or equal to 10080 (got 20000)"),
        ("sla customer_relations soon", "'soon' is not a whole number"),
        ("accounts customer_relations @acme_store", "unknown account '@acme_store'"),
        ("accounts customer_relations", "Name at least one X account"),
        ("accounts customer_relations <@U0BOB|bob>", "'bob' is a Slack member; write the X handle"),
        ("follow customer_relations add keyword outage", "already follows the keyword 'outage'"),
        (
            "follow customer_relations remove keyword lawsuit",
            "does not follow the keyword 'lawsuit'; its keywords: outage, refund",
        ),
        ("follow customer_relations add hashtag two words", "is not a hashtag"),
        ("follow customer_relations add author @not-a-handle!", "is not an X handle"),
        ("follow customer_relations add colour red", "'colour' is not keyword, hashtag or author"),
        ("follow customer_relations keyword refund", "Say add or remove"),
    ],
)
def test_bad_values_get_app_yamls_words_and_the_usage_line(
    world: FakeWorld, admin: SlackUser, text: str, words: str
) -> None:
    refused(world, admin, text, words)


def test_follow_adds_and_removes_what_the_segment_searches_for(
    world: FakeWorld, admin: SlackUser
) -> None:
    assert "now follows the keyword 'billing error'" in brand(
        world, admin, "follow customer_relations add keyword billing error"
    )
    assert "now follows the hashtag '#AcmeHelp'" in brand(
        world, admin, "follow customer_relations add hashtag #AcmeHelp"
    )
    assert "no longer follows the keyword 'refund'" in brand(
        world, admin, "follow customer_relations remove keyword refund"
    )
    # Slack sends & < > escaped: the keyword is stored as typed
    assert "now follows the keyword 'AT&T fiber'" in brand(
        world, admin, "follow customer_relations add keyword AT&amp;T fiber"
    )
    follow = segment_config(world).follow
    assert follow.keywords == ["outage", "billing error", "AT&T fiber"]
    assert follow.hashtags == ["#acmehelp"]
    query = segment_search_queries(world.runtime.services.segments.config)["customer_relations"]
    assert '"billing error"' in query and "#acmehelp" in query and "refund" not in query

    # back to the file's list: no override is left to show
    brand(world, admin, "follow customer_relations add keyword refund")
    brand(world, admin, "follow customer_relations remove keyword billing error")
    brand(world, admin, "follow customer_relations remove keyword AT&amp;T fiber")
    assert ("customer_relations", "follow.keywords") not in overrides(world)


def test_accounts_limit_what_a_segment_may_post_as(world: FakeWorld, admin: SlackUser) -> None:
    answer = brand(world, admin, "accounts customer_relations @ACME")
    assert "may now post as @ACME" in answer
    assert segment_config(world).accounts == ["acme"]
    # the one account is now guarded by customer relations: the others, listing none, lose it
    assert (
        ":warning: Listing an account guards it, so segments that list none can no longer post as it: Crisis management (@acme);"
        in answer
    )


# -- routing rules --------------------------------------------------------------------------------


def test_routing_rules_are_listed_added_moved_and_removed(
    world: FakeWorld, admin: SlackUser
) -> None:
    listed = brand(world, admin, "route list")
    assert "1. keywords hacked, lawsuit · sentiment below -0.3 → Crisis management" in listed
    assert "Anything else → Customer relations." in listed

    added = brand(world, admin, "route add event_coverage keywords keynote, livestream")
    assert "Added routing rule 2: keywords keynote, livestream → Event coverage" in added
    mention = carded(world, "@acme when does the keynote start?")
    assert world.mention(mention).segment == "event_coverage"

    assert "Moved routing rule 2 to 1" in brand(world, admin, "route move 2 1")
    assert brand(world, admin, "route list").index("keynote") < brand(
        world, admin, "route list"
    ).index("hacked")
    assert "Removed routing rule 1" in brand(world, admin, "route remove 1")
    assert "keynote" not in brand(world, admin, "route list")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("route add crisis_management regex (unclosed", "invalid regex '(unclosed'"),
        ("route add crisis_management colour red", "'colour' is not one of keywords"),
        ("route add nowhere keywords x", "Unknown segment 'nowhere'"),
        (
            "route add crisis_management keywords",
            "Name the segment, the kind of rule and its value.",
        ),
        ("route add crisis_management sentiment_below very", "'very' is not a number"),
        ("route add crisis_management sentiment_below -3", "greater than or equal to -1"),
        ("route remove 5", "There are 1 routing rules: pick a number from 1 to 1"),
        ("route move 1", "Give one whole number."),
        ("route shuffle", "'shuffle' is not list, add, move or remove."),
    ],
)
def test_bad_routing_rules_are_refused(
    world: FakeWorld, admin: SlackUser, text: str, words: str
) -> None:
    refused(world, admin, text, words, usage="Usage: `/brand route")


# -- reset, restarts, replicas --------------------------------------------------------------------


def test_an_override_survives_a_restart_and_loses_to_reset(
    world: FakeWorld, admin: SlackUser
) -> None:
    brand(world, admin, f"channel customer_relations <#{NEW_CARE}|care-team>")
    world.runtime.stop()
    world.runtime = world.build_runtime()  # a new process over the same database
    assert segment_config(world).channel == NEW_CARE
    assert posted_card(world, carded(world)).channel == NEW_CARE

    answer = brand(world, admin, "reset customer_relations")
    assert answer == "Reset Customer relations to app.yaml (1 value(s))."
    # the reset was served by the first process (the test's HTTP server still runs its app): the
    # new one sees it as any other replica does
    world.slack.wait_for(
        lambda _: world.runtime.services.segments.channel("customer_relations") == "C0CUSTOMER",
        timeout=3,
    )
    assert overrides(world) == {}
    assert posted_card(world, carded(world, "@acme outage again")).channel == "C0CUSTOMER"
    (reset,) = audit_entries(world, action="config.reset")
    assert '"customer_relations.channel":"C0NEWCARE"' in (reset.before or "")
    assert "nothing to reset" in brand(world, admin, "reset customer_relations").lower()


def test_reset_all_asks_first_then_drops_every_override(world: FakeWorld, admin: SlackUser) -> None:
    brand(world, admin, "sla customer_relations 30")
    brand(world, admin, "approvals crisis_management 3")
    brand(world, admin, "route remove 1")
    said(world, admin, lambda: admin.command("/brand", "reset all", channel=OPS))
    (asked,) = [e for e in world.slack.ephemerals if e.get("blocks")]
    assert "drops all 3 value(s) set from Slack" in str(asked["blocks"])
    assert len(overrides(world)) == 3  # nothing happens until confirmed

    # a non-admin pressing the button (a forwarded screen) changes nothing
    bob = world.user("U0BOB", "bob")
    refused = said(world, bob, lambda: _press(bob, asked))
    assert "Only brandbot admins" in refused and len(overrides(world)) == 3

    done = said(world, admin, lambda: _press(admin, asked))
    assert done == "Reset every segment and the routing rules to app.yaml (3 value(s))."
    assert overrides(world) == {}
    config = world.runtime.services.segments.config
    assert config == world.config


def _press(user: SlackUser, ephemeral: dict[str, Any]) -> Any:
    return user.forge_action(
        channel=OPS,
        ts=str(ephemeral["ts"]),
        action_id=SteeringAction.CONFIRM_RESET_ALL,
        value="all",
        message={"type": "message", "ts": ephemeral["ts"], "text": ephemeral["text"]},
        extra={
            "container": {
                "type": "message",
                "message_ts": ephemeral["ts"],
                "channel_id": OPS,
                "is_ephemeral": True,
            }
        },
    )


def test_another_replica_sees_a_change_within_a_second_or_two(
    world: FakeWorld, admin: SlackUser
) -> None:
    replica = world.build_runtime()  # a second process on the same database
    try:
        assert (
            replica.services.segments.config.segments["customer_relations"].channel == "C0CUSTOMER"
        )
        brand(world, admin, f"channel customer_relations <#{NEW_CARE}|care-team>")
        world.slack.wait_for(
            lambda _: replica.services.segments.channel("customer_relations") == NEW_CARE,
            timeout=3,
        )
    finally:
        replica.stop()


# -- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "segments",
        "channel customer_relations <#C0NEWCARE|care-team>",
        "approvers customer_relations <@U0BOB|bob>",
        "approvals customer_relations 1",
        "sla customer_relations 1",
        "accounts customer_relations @acme",
        "follow customer_relations add keyword free stuff",
        "route list",
        "route add customer_relations keywords free",
        "route move 1 1",
        "route remove 1",
        "reset customer_relations",
        "reset all",
    ],
)
def test_non_admins_are_refused_audited_and_nothing_changes(
    world: FakeWorld, admin: SlackUser, text: str
) -> None:
    bob = world.user("U0BOB", "bob")
    answer = brand(world, bob, text)
    assert answer == "Only brandbot admins can do that.", answer
    (refusal,) = audit_entries(world, action="config.refused")
    assert refusal.actor_id == "U0BOB" and "Only brandbot admins" in (refusal.after or "")
    assert overrides(world) == {}
    assert world.runtime.services.segments.config == world.config
    assert world.slack.calls_to("conversations.join") == []


def test_ten_kilobytes_of_text_are_refused(world: FakeWorld, admin: SlackUser) -> None:
    answer = brand(world, admin, "follow customer_relations add keyword " + "x" * 10_000)
    assert "keep it under 500" in answer
    assert overrides(world) == {}


def test_announcements_are_delivered_once_through_the_outbox(
    world: FakeWorld, admin: SlackUser
) -> None:
    brand(world, admin, "sla customer_relations 25")
    world.deliver()
    world.deliver()
    assert len(world.cards(ANNOUNCEMENT)) == 1
    assert len(announcements(world, "C0CUSTOMER")) == 1


# -- the record, from the command line ------------------------------------------------------------


def _cli(world: FakeWorld, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "app.yaml"
    config.write_text(TEST_CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DATABASE_URL": world.database_url,
            "BRANDBOT_CONFIG": str(config),
        },
        cwd=tmp_path,
        timeout=60,
    )


def test_check_effective_and_audit_show_the_change_with_before_and_after(
    world: FakeWorld, admin: SlackUser, tmp_path: Path
) -> None:
    untouched = _cli(world, tmp_path, "check", "--effective")
    assert untouched.returncode == 0, untouched.stderr
    assert "# No overrides: this is app.yaml as it is." in untouched.stdout

    brand(world, admin, f"channel customer_relations <#{NEW_CARE}|care-team>")
    brand(world, admin, "follow customer_relations add hashtag #AcmeHelp")
    brand(world, world.user("U0BOB", "bob"), "sla customer_relations 1")  # refused

    shown = _cli(world, tmp_path, "check", "--effective")
    assert shown.returncode == 0, shown.stderr
    assert '#   segments.customer_relations.channel = "C0NEWCARE"  (set by ada at' in shown.stdout
    effective = yaml.safe_load(shown.stdout)
    assert effective["segments"]["customer_relations"]["channel"] == NEW_CARE
    assert effective["segments"]["customer_relations"]["follow"]["hashtags"] == ["#acmehelp"]

    who = _cli(world, tmp_path, "audit", "who", "customer_relations")
    assert who.returncode == 0, who.stderr
    lines = who.stdout.splitlines()
    assert lines[0] == "Configuration of customer_relations: 3 change(s) from Slack"
    assert 'ada (U0ADMIN) in C0OPS: channel: "C0CUSTOMER" → "C0NEWCARE"' in lines[1]
    assert 'follow.hashtags: [] → ["#acmehelp"]' in lines[2]
    assert "bob (U0BOB) in C0OPS: refused sla: Only brandbot admins can do that." in lines[3]

    export = _cli(world, tmp_path, "audit", "export")
    assert export.returncode == 0, export.stderr
    changed = [json.loads(line) for line in export.stdout.splitlines()]
    (moved, *_) = [e for e in changed if e["action"] == "config.changed"]
    assert json.loads(moved["before"]) == {"channel": "C0CUSTOMER"}
    assert json.loads(moved["after"])["channel"] == NEW_CARE
