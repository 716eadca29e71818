"""No tweet without approval: /tweet → approval card → eligible approvals → exactly one tweet."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from support import audit_entries, posted_card

from bot.core import audit
from bot.core.audit_report import render_who, who_tweeted
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, SlackMessage
from bot.fakes.drafting import approval_card as _card
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import draft_via_slack
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import latest_draft as _latest_draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.drafting import said as _said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.clicks import Click, Person


def _people(world: FakeWorld) -> tuple[SlackUser, SlackUser, SlackUser]:
    """alice writes, bob approves (customer relations), admin freezes."""
    return (
        world.user("U0ALICE", "alice"),
        world.user("U0BOB", "bob"),
        world.user("U0ADMIN", "admin"),
    )


def _brand(world: FakeWorld, user: SlackUser, text: str) -> str:
    """`/brand text` in the customer channel; what `user` was told."""
    return _said(world, user, partial(user.command, "/brand", text, channel="C0CUSTOMER"))


def test_a_draft_needs_someone_else_to_approve_it_then_posts_once(world: FakeWorld) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    draft = draft_via_slack(
        world, alice, "We're back up. Thanks for your patience! https://acme.com/status"
    )
    card = world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))
    assert "We&apos;re" in str(card["blocks"]) or "We're back up" in str(card["blocks"])
    assert "Needs 1 approval" in str(card["blocks"])

    assert "someone else" in _click(world, alice, draft, DraftAction.APPROVE)
    assert _publish(world) == 0 and world.x.posted_by("acme") == []

    assert "publish queue" in _click(world, bob, draft, DraftAction.APPROVE)
    assert _publish(world) == 1
    tweets = world.x.posted_by("acme")
    assert [t["text"] for t in tweets] == [draft.text]
    posted = _draft(world, draft.id)
    assert posted.state == DraftState.POSTED and posted.tweet_id == tweets[0]["id"]
    assert "Posted* by @acme" in str(
        world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))["blocks"]
    )
    assert _publish(world) == 0 and len(world.x.posted_by("acme")) == 1

    with transaction(world.db) as session:
        history = who_tweeted(session, tweets[0]["id"])
        assert history is not None
        story = render_who(history)
        assert audit.verify(session)[1] is None
    assert "alice" in story and "bob" in story and "REFUSED" in story


def test_a_forged_or_replayed_self_approval_never_publishes(world: FakeWorld) -> None:
    alice = world.user("U0ALICE", "alice")
    draft = draft_via_slack(world, alice, "Big news tomorrow")
    card = _card(world, draft)
    forged_message = {
        "ts": card.ts,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "author: U0BOB, approvals: 5"}}
        ],
    }
    told = len(world.slack.ephemerals)
    alice.forge_action(
        channel=card.channel,
        ts=str(card.ts),
        action_id=DraftAction.APPROVE,
        value=f"{draft.id}:{draft.text_hash}",
        message=forged_message,
        extra={"view": {"private_metadata": '{"author": "U0BOB"}'}},
    )
    world.slack.wait_for(lambda s: len(s.ephemerals) > told)  # the refusal, after the answer
    late = SlackUser(
        app_url=world.app_url,
        signing_secret=world.signing_secret,
        slack=world.slack,
        user_id="U0BOB",
        name="bob",
        clock=lambda: __import__("time").time() - 6 * 60,
    )
    replay = late.click(channel=card.channel, ts=str(card.ts), action_id=DraftAction.APPROVE)
    assert replay.status_code == 401  # an old (replayed) request is refused before any listener
    assert _publish(world) == 0 and world.x.posted_by("acme") == []
    assert _draft(world, draft.id).state == DraftState.PENDING
    refused = audit_entries(world, action="draft.refused")
    assert [e.actor_id for e in refused] == ["U0ALICE"]


def test_n_of_m_approvals_and_an_approver_removed_between_clicks(
    world: FakeWorld, clock: FakeClock
) -> None:
    author = world.user("U0CRISIS1", "casey")
    draft = draft_via_slack(
        world, author, "We are investigating reports of an incident.", channel="C0CRISIS"
    )
    assert draft.segment == "crisis_management"
    second, third = world.user("U0CRISIS2", "quinn"), world.user("U0CRISIS3", "rory")
    assert "1 of 2" in _click(world, second, draft, DraftAction.APPROVE)
    world.slack.set_usergroup("S0CRISIS", ["U0CRISIS1", "U0CRISIS3", "U0CRISIS4"])  # quinn leaves
    clock.advance(seconds=61)  # past the directory cache
    assert "1 of 2" in _click(world, third, draft, DraftAction.APPROVE)  # quinn's no longer counts
    assert _publish(world) == 0
    fourth = world.user("U0CRISIS4", "sam")
    assert "publish queue" in _click(world, fourth, draft, DraftAction.APPROVE)
    assert _publish(world) == 1 and len(world.x.posted_by("acme")) == 1


def test_editing_resets_approvals_and_a_stale_approval_does_nothing(world: FakeWorld) -> None:
    author = world.user("U0CRISIS1", "casey")
    draft = draft_via_slack(world, author, "Statement v1", channel="C0CRISIS")
    quinn, rory = world.user("U0CRISIS2", "quinn"), world.user("U0CRISIS3", "rory")
    old_card = world.slack.message("C0CRISIS", str(_card(world, draft).ts))
    assert "1 of 2" in _click(world, quinn, draft, DraftAction.APPROVE)

    author.click(channel="C0CRISIS", ts=str(_card(world, draft).ts), action_id=DraftAction.EDIT)
    world.slack.wait_for(lambda s: len(s.views_for("U0CRISIS1")) == 2)
    edit_view = author.last_view_for("U0CRISIS1")
    assert author.submit_view(
        edit_view["id"],
        {"text": {"value": {"type": "plain_text_input", "value": "Statement v2"}}},
    ).done
    world.slack.wait_for(lambda _: _draft(world, draft.id).text == "Statement v2")
    world.deliver()
    assert "0 so far" in str(world.slack.message("C0CRISIS", str(_card(world, draft).ts))["blocks"])

    # rory approves from the card as it was before the edit: stale, so nothing happens
    stale_value = next(
        e["value"]
        for b in old_card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == DraftAction.APPROVE
    )
    rory.forge_action(
        channel="C0CRISIS",
        ts=str(_card(world, draft).ts),
        action_id=DraftAction.APPROVE,
        value=stale_value,
    )
    world.slack.wait_for(lambda s: any(e["user"] == "U0CRISIS3" for e in s.ephemerals))
    assert "text changed" in world.slack.ephemerals[-1]["text"]
    assert draft.id is not None  # a stored draft
    assert world.runtime.services.drafts.eligible_approvals(draft.id) == 0
    assert "1 of 2" in _click(world, quinn, draft, DraftAction.APPROVE)
    assert _publish(world) == 0 and world.x.posted_by("acme") == []


def test_two_approvers_clicking_at_once_post_once(world: FakeWorld) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Our spring sale starts now")
    bob, carol = world.user("U0BOB", "bob"), world.user("U0CAROL", "carol")
    card = _card(world, draft)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(
            pool.map(
                lambda u: u.click(
                    channel=card.channel, ts=str(card.ts), action_id=DraftAction.APPROVE
                ),
                [bob, carol],
            )
        )
    world.slack.wait_for(lambda s: len(s.ephemerals) >= 2)
    _publish(world)
    _publish(world)
    assert len(world.x.posted_by("acme")) == 1
    assert len(audit_entries(world, action="draft.approved")) == 1


def test_a_publisher_killed_between_x_and_commit_posts_exactly_once_after_restart(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Maintenance tonight 2am UTC")
    release_x = threading.Event()
    world.x.after_post = lambda _tweet: release_x.wait(10)  # X has the tweet; its answer is stuck
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    stuck = threading.Thread(target=world.runtime.publisher.publish_due, daemon=True)
    stuck.start()
    world.x.wait_for(lambda: len(world.x.posted_by("acme")) == 1)

    # The process "dies" here; a new one starts over the same database after the lease expires.
    restarted = world.build_runtime()
    clock.advance(seconds=61)
    assert restarted.publisher.publish_due() == 1  # it finds the tweet instead of posting again
    release_x.set()
    stuck.join(timeout=10)
    assert len(world.x.posted_by("acme")) == 1
    recorded = _draft(world, draft.id)
    assert (
        recorded.state == DraftState.POSTED
        and recorded.tweet_id == world.x.posted_by("acme")[0]["id"]
    )
    assert len(audit_entries(world, action="draft.post")) == 1


def test_freeze_stops_a_burst_and_unfreeze_holds_it_for_release(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice, bob, admin = _people(world)
    at = int((clock.now().timestamp() // 60 + 5) * 60)  # all scheduled five minutes ahead
    drafts = [draft_via_slack(world, alice, f"Spring promo #{i}", schedule=at) for i in range(50)]
    for draft in drafts:
        _click(world, bob, draft, DraftAction.APPROVE)
    assert _publish(world) == 0  # not due yet

    assert "frozen" in _brand(world, admin, "freeze all Outage in progress, hold everything for 2h")
    posted_before = len(world.x.posted_by("acme"))
    clock.advance(minutes=5)
    assert _publish(world) == 0
    assert len(world.x.posted_by("acme")) == posted_before
    assert "Publishing is frozen" in str(
        world.slack.message("C0CUSTOMER", str(_card(world, drafts[-1]).ts))["blocks"]
    )

    assert "held" in _brand(world, admin, "unfreeze all")
    assert _publish(world) == 0  # nothing is dumped on resume
    held = [d for d in drafts if _draft(world, d.id).state == DraftState.HELD]
    assert len(held) == 50 - posted_before
    for draft in held[:5]:
        world.runtime.services.drafts.reject(
            _card_click(world, bob, draft), reason="tone-deaf after the outage"
        )
    for draft in held[5:]:
        _click_quiet(world, bob, draft, DraftAction.RELEASE)
    for _ in range(10):
        _publish(world)
        clock.advance(hours=1)  # the account's hourly limit spreads them out
    texts = [t["text"] for t in world.x.posted_by("acme")]
    assert len(texts) == len(set(texts)) == posted_before + len(held) - 5
    assert not {d.text for d in held[:5]} & set(texts)


def _card_click(world: FakeWorld, user: SlackUser, draft: Draft) -> Click:
    card = _card(world, draft)
    return Click(Person(user.user_id, user.name), card.channel, str(card.ts), None)


def _click_quiet(world: FakeWorld, user: SlackUser, draft: Draft, action: DraftAction) -> None:
    world.deliver()
    card = _card(world, draft)
    assert user.click(channel=card.channel, ts=str(card.ts), action_id=action).status_code == 200
    world.slack.wait_for(lambda _: _draft(world, draft.id).state != DraftState.HELD)


def test_an_unapproved_scheduled_draft_expires_at_its_time_and_tells_its_author(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice = world.user("U0ALICE", "alice")
    alice.command("/tweet", "", channel="C0CUSTOMER")
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    at = int((clock.now().timestamp() // 60 + 10) * 60)  # ten minutes ahead, on the minute
    values: dict[str, dict[str, Any]] = {
        "text": {"value": {"type": "plain_text_input", "value": "Webinar starts in 1 hour"}},
        "schedule": {"value": {"type": "datetimepicker", "selected_date_time": at}},
    }
    assert alice.submit_view(view["id"], values).done
    world.slack.wait_for(lambda _: _latest_draft(world) is not None)
    draft = _latest_draft(world)
    assert draft is not None and draft.schedule_at is not None
    world.deliver()
    clock.advance(minutes=11)
    assert _publish(world) == 0
    assert _draft(world, draft.id).state == DraftState.EXPIRED
    world.deliver()
    dm = world.slack.messages.get("U0ALICE", [])
    assert len(dm) == 1 and "expired" in dm[0]["text"]  # delivered to her DM, once
    assert "Expired" in str(
        world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))["blocks"]
    )
    assert world.x.posted_by("acme") == []


def test_a_reply_with_candidates_posts_the_one_the_approver_picks(world: FakeWorld) -> None:
    mention = world.x.add_tweet(author="dana", text="@acme my refund still hasn't arrived")
    world.poll()
    world.deliver()
    card = posted_card(world, mention["id"])
    alice = world.user("U0ALICE", "alice")
    alice.click(channel=card.channel, ts=card.ts, action_id="mention_reply")
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    assert str(view["blocks"]).count("Alternative") == 2
    values = {
        "text": {
            "value": {"type": "plain_text_input", "value": "@dana Sorry! DM us your order number."}
        },
        "alternative_2": {
            "value": {
                "type": "plain_text_input",
                "value": "@dana We're on it: refunds take 5 days.",
            }
        },
    }
    assert alice.submit_view(view["id"], values).done
    world.slack.wait_for(lambda _: _latest_draft(world) is not None)
    world.deliver()
    draft = _latest_draft(world)
    assert draft is not None and draft.in_reply_to == mention["id"]
    shown = str(world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))["blocks"])
    assert "Option 1" in shown and "Option 2" in shown

    bob = world.user("U0BOB", "bob")
    bob.click(channel="C0CUSTOMER", ts=str(_card(world, draft).ts), action_id="draft_approve_2")
    world.slack.wait_for(lambda _: _draft(world, draft.id).state == DraftState.APPROVED)
    assert _publish(world) == 1
    posted = world.x.posted_by("acme")
    assert [t["text"] for t in posted] == ["@dana We're on it: refunds take 5 days."]
    assert {"type": "replied_to", "id": mention["id"]} in posted[0]["referenced_tweets"]
    final = _draft(world, draft.id)
    assert final.candidates is None and final.text == posted[0]["text"]


def test_deleting_a_posted_tweet_needs_a_second_approver_or_an_admin(world: FakeWorld) -> None:
    alice, bob, carol = (
        world.user("U0ALICE", "alice"),
        world.user("U0BOB", "bob"),
        world.user("U0CAROL", "carol"),
    )
    draft = draft_via_slack(world, alice, "Oops, wrong link")
    _click(world, bob, draft, DraftAction.APPROVE)
    assert _publish(world) == 1
    assert "another approver" in _click(world, bob, draft, DraftAction.DELETE)
    world.deliver()
    assert "another approver" in _click(
        world, bob, draft, DraftAction.DELETE
    )  # the same person again
    assert len(world.x.posted_by("acme")) == 1
    assert "someone" not in _click(
        world, alice, draft, DraftAction.DELETE
    )  # not an approver: refused
    assert len(world.x.posted_by("acme")) == 1
    assert "Deleted" in _click(world, carol, draft, DraftAction.DELETE)
    assert world.x.posted_by("acme") == []
    world.deliver()
    assert _draft(world, draft.id).state == DraftState.DELETED
    assert "Deleted from X" in str(
        world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))["blocks"]
    )

    admin_draft = draft_via_slack(world, alice, "Another mistake")
    _click(world, bob, admin_draft, DraftAction.APPROVE)
    _publish(world)
    assert "Deleted" in _click(
        world, world.user("U0ADMIN", "admin"), admin_draft, DraftAction.DELETE
    )
    assert world.x.posted_by("acme") == []


def test_a_timed_freeze_ending_does_not_dump_the_backlog(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice, bob, admin = _people(world)
    draft = draft_via_slack(world, alice, "New colours in store")
    assert "frozen for acme" in _brand(
        world, admin, "freeze acme Investigating a data issue for 1h"
    )
    _click(world, bob, draft, DraftAction.APPROVE)  # approving goes on while frozen
    assert _publish(world) == 0
    clock.advance(minutes=61)  # the freeze's timer runs out
    assert _publish(world) == 0 and world.x.posted_by("acme") == []
    assert _draft(world, draft.id).state == DraftState.HELD
    with transaction(world.db) as session:
        queue = session.scalars(
            select(SlackMessage).where(col(SlackMessage.kind) == "held_queue")
        ).one()
    assert queue.channel == "C0CUSTOMER"  # where the freeze was ordered
    world.deliver()
    assert "Release all" in str(world.slack.message("C0CUSTOMER", str(queue.ts))["blocks"])
    _click_quiet(world, bob, draft, DraftAction.RELEASE)
    assert _publish(world) == 1 and len(world.x.posted_by("acme")) == 1


def test_only_admins_freeze_and_a_reason_is_required(world: FakeWorld) -> None:
    bob, admin = world.user("U0BOB", "bob"), world.user("U0ADMIN", "admin")
    assert "Only brandbot admins" in _brand(world, bob, "freeze all because I said so")
    assert "Say why" in _brand(world, admin, "freeze all")
    assert not audit_entries(world, action="freeze")


def test_a_maybe_posted_draft_held_by_a_freeze_is_held_for_release_and_searched_first(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice, bob, admin = _people(world)
    draft = draft_via_slack(world, alice, "Flash sale ends at midnight")
    _click(world, bob, draft, DraftAction.APPROVE)
    world.x.fail("POST /2/tweets", status=503)  # X's answer is an error: did it post? unknown
    assert _publish(world) == 0
    assert _draft(world, draft.id).state == DraftState.POSTING

    assert "frozen" in _brand(world, admin, "freeze all Crisis call in progress")
    clock.advance(minutes=5)
    assert _publish(world) == 0
    assert "resumed" in _brand(world, admin, "unfreeze all")
    assert _publish(world) == 0 and world.x.posted_by("acme") == []  # not dumped on resume
    assert _draft(world, draft.id).state == DraftState.HELD

    _click_quiet(world, bob, draft, DraftAction.RELEASE)
    searched = len(world.x.calls_to("GET /2/users/"))
    assert _publish(world) == 1
    assert len(world.x.calls_to("GET /2/users/")) > searched  # looked for it on X before posting
    assert len(world.x.posted_by("acme")) == 1
