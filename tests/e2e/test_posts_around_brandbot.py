"""Tweets posted around brandbot (issue 11), end to end: a brand account tweeting outside brandbot
raises one alert in the crisis channel within one poll; brandbot's own posts never do; Delete from
X needs two different people whatever the payload says; Expected needs an admin; a reply posted
on X directly answers its mention."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from support import audit_entries, carded, posted_card

from bot.alerts.outside_posts import OUTSIDE_POST_ALERT
from bot.core.audit_report import render_who, who_tweeted
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import MentionState, OutsidePost, OutsidePostState, PollCursor, SlackMessage
from bot.fakes.drafting import click_card, draft_via_slack, publish, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.outside_post_alert import REASON_ACTION, REASON_BLOCK, OutsidePostAction

ALERTS = "C0CRISIS"  # TEST_CONFIG names no alerts.channel: the crisis segment's channel


def _poll(world: FakeWorld) -> None:
    assert isinstance(world.clock, FakeClock)
    world.clock.advance(seconds=world.config.poll_seconds)
    world.poll()
    world.deliver()


def _native(world: FakeWorld, text: str, **kwargs: Any) -> str:
    """@acme tweets on X directly (after brandbot began watching its timeline)."""
    return str(world.x.post_natively("acme", text, created_at=world.clock.now(), **kwargs)["id"])


def _alerts(world: FakeWorld) -> list[SlackMessage]:
    return world.cards(OUTSIDE_POST_ALERT)


def _alert_posts(world: FakeWorld) -> list[Any]:
    return [c for c in world.slack.calls_to("chat.postMessage") if c.args.get("channel") == ALERTS]


def _shown(world: FakeWorld, alert: SlackMessage) -> str:
    assert alert.ts is not None
    return json.dumps(world.slack.message(alert.channel, alert.ts)["blocks"], ensure_ascii=False)


def _buttons(world: FakeWorld, alert: SlackMessage) -> list[str]:
    assert alert.ts is not None
    blocks = world.slack.message(alert.channel, alert.ts)["blocks"]
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _post(world: FakeWorld, tweet_id: str) -> OutsidePost:
    with transaction(world.db) as session:
        post = session.get(OutsidePost, tweet_id)
        assert post is not None
        return post


def _press(world: FakeWorld, user: SlackUser, alert: SlackMessage, action: str) -> str:
    """Press a button on the alert as it is in Slack now; the ephemeral answer."""
    return said(
        world, user, lambda: user.click(channel=alert.channel, ts=str(alert.ts), action_id=action)
    )


def _watching(world: FakeWorld) -> None:
    """brandbot's first poll: from now on it watches the accounts' own timelines."""
    _poll(world)


def test_a_tweet_posted_outside_brandbot_raises_one_alert_in_the_crisis_channel(
    world: FakeWorld,
) -> None:
    _watching(world)
    tweet_id = _native(world, "Flash sale: 90% off everything & more", source="Hootsuite")
    _poll(world)  # within one poll
    (alert,) = _alerts(world)
    assert alert.channel == ALERTS
    shown = _shown(world, alert)
    assert "@acme posted a tweet that nobody approved in brandbot" in shown
    assert "Flash sale: 90% off everything &amp; more" in shown  # escaped once, not twice
    assert "via *Hootsuite*" in shown and f"acme/status/{tweet_id}" in shown
    assert _buttons(world, alert) == [OutsidePostAction.EXPECTED, OutsidePostAction.DELETE]
    (entry,) = audit_entries(world, action="x.post_around_brandbot")
    assert entry.subject == f"tweet:{tweet_id}" and entry.actor_id == "brandbot"
    after = json.loads(entry.after or "{}")
    assert after["account"] == "acme" and after["source"] == "Hootsuite"
    assert after["text"] == "Flash sale: 90% off everything & more"

    # Overlapping polls, and a second process re-reading the timeline from the top (as after a
    # crash before it saved its cursor): still one alert.
    other = world.build_runtime()
    for runtime in (other, world.runtime):
        with transaction(world.db) as session:
            session.execute(
                update(PollCursor)
                .where(col(PollCursor.key) == "timeline:acme")
                .values(since_id=None, next_poll_at=world.clock.now())
            )
        runtime.ingestor.poll_due()
        world.deliver()
    _poll(world)
    assert len(_alerts(world)) == 1
    assert len(_alert_posts(world)) == 1
    assert len(audit_entries(world, action="x.post_around_brandbot")) == 1


def test_brandbots_own_posts_and_replies_never_alert(world: FakeWorld) -> None:
    _watching(world)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    draft = draft_via_slack(world, alice, "Our spring range is in stores today")
    assert "publish queue" in click_card(world, bob, draft, DraftAction.APPROVE)
    assert publish(world) == 1
    for _ in range(3):
        _poll(world)
    assert len(world.x.posted_by("acme")) == 1
    assert _alerts(world) == []
    assert audit_entries(world, action="x.post_around_brandbot") == []


def test_delete_from_x_needs_two_different_people_even_admins(world: FakeWorld) -> None:
    _watching(world)
    tweet_id = _native(world, "We have been hacked lol")
    _poll(world)
    (alert,) = _alerts(world)
    first, second = world.user("U0CRISIS1", "crisis1"), world.user("U0CRISIS2", "crisis2")
    admin, mallory = world.user("U0ADMIN", "admin"), world.user("U0MALLORY", "mallory")

    assert "Only brandbot admins and this channel's approvers" in _press(
        world, mallory, alert, OutsidePostAction.DELETE
    )
    assert "a different person must confirm" in _press(
        world, first, alert, OutsidePostAction.DELETE
    )
    world.deliver()
    assert "Deletion requested by <@U0CRISIS1>" in _shown(world, alert)
    assert "You asked for this deletion" in _press(world, first, alert, OutsidePostAction.DELETE)
    # A forged press naming another alert's tweet, and a replay of the request: refused / nothing.
    forged = said(
        world,
        first,
        lambda: first.forge_action(
            channel=alert.channel, ts=str(alert.ts), action_id=OutsidePostAction.DELETE, value="1"
        ),
    )
    assert "doesn't match its alert" in forged
    assert first.last_sent is not None
    body, stamp = first.last_sent
    assert first.send_raw(body, timestamp=stamp).status_code == 200
    assert world.x.calls_to("DELETE /2/tweets") == []
    assert _post(world, tweet_id).state == OutsidePostState.DELETE_REQUESTED
    assert tweet_id in world.x.tweets

    assert "Deleted from X" in _press(world, second, alert, OutsidePostAction.DELETE)
    world.deliver()
    assert tweet_id not in world.x.tweets
    assert len(world.x.calls_to("DELETE /2/tweets")) == 1
    shown = _shown(world, alert)
    assert "Deleted from X* by <@U0CRISIS2>" in shown and "asked by <@U0CRISIS1>" in shown
    assert _buttons(world, alert) == []
    refused = audit_entries(world, action="outside_post.refused")
    assert {e.actor_id for e in refused} == {"U0MALLORY", "U0CRISIS1"}
    assert [e.action for e in audit_entries(world, subject=f"tweet:{tweet_id}")] == [
        "x.post_around_brandbot",
        "outside_post.refused",
        "outside_post.delete_requested",
        "outside_post.refused",
        "outside_post.refused",
        "outside_post.delete_confirmed",
        "outside_post.deleted",
    ]

    with transaction(world.db) as session:  # `brandbot audit who` answers for it too
        history = who_tweeted(session, tweet_id)
        assert history is not None
        told = render_who(history)
    assert "Not posted through brandbot: nobody approved it" in told
    assert "on X directly via Twitter Web App, not through brandbot" in told
    assert "Deletion from X requested by crisis1 (U0CRISIS1)" in told
    assert "REFUSED: mallory (U0MALLORY) tried to delete" in told
    assert "Deleted from X (confirmed by crisis2 (U0CRISIS2))" in told

    # An admin alone cannot take a tweet down either.
    other_id = _native(world, "Second unapproved tweet")
    _poll(world)
    other = next(a for a in _alerts(world) if a.subject_id == other_id)
    assert "a different person must confirm" in _press(
        world, admin, other, OutsidePostAction.DELETE
    )
    world.deliver()
    assert "You asked for this deletion" in _press(world, admin, other, OutsidePostAction.DELETE)
    assert other_id in world.x.tweets


def _open_expected(world: FakeWorld, user: SlackUser, alert: SlackMessage) -> dict[str, Any]:
    before = len(world.slack.views_for(user.user_id))
    user.click(channel=alert.channel, ts=str(alert.ts), action_id=OutsidePostAction.EXPECTED)
    world.slack.wait_for(lambda s: len(s.views_for(user.user_id)) > before)
    return user.last_view_for(user.user_id)


def test_expected_needs_an_admin_and_a_reason_and_shows_on_the_alert(world: FakeWorld) -> None:
    _watching(world)
    tweet_id = _native(world, "Launch day! Scheduled by our agency", source="Sprout Social")
    _poll(world)
    (alert,) = _alerts(world)
    approver = world.user("U0CRISIS1", "crisis1")
    assert "Only brandbot admins" in _press(world, approver, alert, OutsidePostAction.EXPECTED)
    assert world.slack.views_for(approver.user_id) == []

    admin = world.user("U0ADMIN", "admin")
    form = _open_expected(world, admin, alert)
    # The admin's form, submitted by someone else (a forged or stolen submission): refused.
    response = approver.submit_view(form["id"], {REASON_BLOCK: {REASON_ACTION: "It's fine"}})
    assert "Only brandbot admins" in response.errors[REASON_BLOCK]
    assert _post(world, tweet_id).state == OutsidePostState.ALERTED
    blank = admin.submit_view(form["id"], {REASON_BLOCK: {REASON_ACTION: "   "}}, force=True)
    assert "Say why" in blank.errors[REASON_BLOCK]
    ok = admin.submit_view(form["id"], {REASON_BLOCK: {REASON_ACTION: "Agency's launch post"}})
    assert ok.done
    world.deliver()
    post = _post(world, tweet_id)
    assert post.state == OutsidePostState.EXPECTED and post.expected_by == "U0ADMIN"
    shown = _shown(world, alert)
    assert "*Expected* by <@U0ADMIN>: “Agency's launch post”" in shown
    assert _buttons(world, alert) == [OutsidePostAction.DELETE]  # it can still be taken down
    (entry,) = audit_entries(world, action="outside_post.expected")
    assert json.loads(entry.after or "{}")["reason"] == "Agency's launch post"


def test_a_reply_posted_on_x_directly_answers_its_mention_and_alerts(world: FakeWorld) -> None:
    mention_id = carded(world, "@acme my parcel never arrived")  # the first poll, too
    assert world.mention(mention_id).state == MentionState.OPEN
    reply_id = _native(world, "@dana so sorry, DM us your order number", in_reply_to=mention_id)
    _poll(world)
    mention = world.mention(mention_id)
    assert mention.state == MentionState.REPLIED
    assert (mention.replied_via, mention.reply_tweet_id) == ("x", reply_id)
    assert mention.replied_at is not None and mention.replied_at <= world.clock.now()
    card = posted_card(world, mention_id)
    shown = json.dumps(world.slack.message(card.channel, card.ts)["blocks"], ensure_ascii=False)
    assert "Replied on X directly by @acme" in shown and f"acme/status/{reply_id}" in shown
    (credit,) = audit_entries(world, action="mention.replied_on_x")
    assert json.loads(credit.after or "{}")["tweet_id"] == reply_id
    (alert,) = _alerts(world)
    assert "posted a reply that nobody approved" in _shown(world, alert)
    _poll(world)
    assert len(audit_entries(world, action="mention.replied_on_x")) == 1

    # Taken down from X through its alert: the customer has no answer any more.
    first, second = world.user("U0CRISIS1", "crisis1"), world.user("U0CRISIS2", "crisis2")
    _press(world, first, alert, OutsidePostAction.DELETE)
    world.deliver()
    assert "Deleted from X" in _press(world, second, alert, OutsidePostAction.DELETE)
    world.deliver()
    assert world.mention(mention_id).state == MentionState.OPEN
    shown = json.dumps(world.slack.message(card.channel, card.ts)["blocks"], ensure_ascii=False)
    assert "A reply @acme posted on X directly was deleted from X" in shown
    (unreplied,) = audit_entries(world, action="mention.unreplied")
    assert json.loads(unreplied.after or "{}")["tweet_id"] == reply_id
