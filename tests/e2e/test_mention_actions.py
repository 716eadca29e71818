"""Claim · Release · Reroute · Resolve · Dismiss · Reopen, clicked by simulated people."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from support import audit_entries, carded, posted_card

from bot.core.clock import FakeClock
from bot.core.models import MentionState
from bot.fakes.world import FakeWorld
from bot.slack.cards.mention_card import MentionAction
from policies.config import BrandConfig


def _shown(world: FakeWorld, mention_id: str) -> str:
    card = posted_card(world, mention_id)
    return str(world.slack.message(card.channel, card.ts)["blocks"])


def test_claim_updates_the_card_in_place_and_a_second_claim_is_told_who_has_it(
    world: FakeWorld,
) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")

    assert (
        alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM).status_code
        == 200
    )
    world.slack.wait_for(lambda _: world.mention(mention_id).claimed_by == "U0ALICE")
    world.deliver()
    assert len(world.slack.calls_to("chat.update")) == 1
    assert "Claimed* by <@U0ALICE>" in _shown(world, mention_id)
    assert world.slack.message(card.channel, card.ts)["ts"] == card.ts  # same message, updated

    # Bob's card still shows Claim if he had it open; the server decides. A refusal is still a
    # handled request (200): Slack must not show Bob an error for a click that was answered.
    refused = bob.forge_action(
        channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM, value=mention_id
    )
    assert refused.status_code == 200
    world.slack.wait_for(lambda s: any(e["user"] == "U0BOB" for e in s.ephemerals))
    note = next(e for e in world.slack.ephemerals if e["user"] == "U0BOB")
    assert "Already claimed by <@U0ALICE>" in note["text"]
    assert world.mention(mention_id).claimed_by == "U0ALICE"


def test_release_resolve_reopen_and_dismiss_with_reason(world: FakeWorld) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")

    def click(action: MentionAction, state: MentionState) -> None:
        world.deliver()
        alice.click(channel=card.channel, ts=card.ts, action_id=action)
        world.slack.wait_for(lambda _: world.mention(mention_id).state == state)

    click(MentionAction.CLAIM, MentionState.CLAIMED)
    click(MentionAction.RELEASE, MentionState.OPEN)
    click(MentionAction.RESOLVE, MentionState.RESOLVED)
    world.deliver()
    assert "Resolved* by <@U0ALICE>" in _shown(world, mention_id)
    click(MentionAction.REOPEN, MentionState.OPEN)
    world.deliver()

    alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.DISMISS)
    world.slack.wait_for(lambda s: s.views)
    view = alice.last_view_for("U0ALICE")
    alice.submit_view(
        view["id"], {"reason": {"reason_choice": {"selected_option": {"value": "spam"}}}}
    )
    world.slack.wait_for(lambda _: world.mention(mention_id).state == MentionState.DISMISSED)
    world.deliver()
    assert "Spam or bot" in _shown(world, mention_id)
    assert [e.action for e in audit_entries(world)] == [
        "mention.ingest",
        "mention.claim",
        "mention.release",
        "mention.resolve",
        "mention.reopen",
        "mention.dismiss",
    ]


def test_reroute_moves_the_card_and_the_old_one_says_where(world: FakeWorld) -> None:
    mention_id = carded(world)
    old = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")
    alice.click(
        channel=old.channel, ts=old.ts, action_id=MentionAction.REROUTE, option="product_promotion"
    )
    world.slack.wait_for(lambda _: world.mention(mention_id).segment == "product_promotion")
    world.deliver()
    new = world.card(mention_id)
    assert new.channel == "C0PROMO" and new.ts is not None
    assert "Moved to <#C0PROMO>" in str(world.slack.message(old.channel, old.ts)["blocks"])
    assert "rerouted by alice" in world.mention(mention_id).route_reason
    # The old card has no buttons left; a stale click is refused.
    alice.forge_action(
        channel=old.channel, ts=old.ts, action_id=MentionAction.CLAIM, value=mention_id
    )
    world.slack.wait_for(lambda s: any("moved to <#C0PROMO>" in e["text"] for e in s.ephemerals))
    assert world.mention(mention_id).state == MentionState.OPEN


def test_only_responders_of_a_restricted_segment_may_claim(world: FakeWorld) -> None:
    mention_id = carded(world, text="@acme you got hacked, this is a disgrace, lawsuit")
    card = posted_card(world, mention_id)
    assert card.channel == "C0CRISIS"
    outsider, member = world.user("U0ALICE", "alice"), world.user("U0CRISIS1", "casey")
    outsider.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM)
    world.slack.wait_for(lambda s: any(e["user"] == "U0ALICE" for e in s.ephemerals))
    assert world.mention(mention_id).state == MentionState.OPEN
    member.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM)
    world.slack.wait_for(lambda _: world.mention(mention_id).claimed_by == "U0CRISIS1")


def test_forged_action_for_a_mention_in_another_channel_is_rejected(world: FakeWorld) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    mallory = world.user("U0MALLORY", "mallory")
    # Signed by "Slack", but the click claims to come from a channel the card is not in.
    mallory.forge_action(
        channel="C0PROMO", ts=card.ts, action_id=MentionAction.RESOLVE, value=mention_id
    )
    # And a real card's button carrying another mention's id.
    other_id = carded(world, text="@acme refund for order 9", author="lee")
    mallory.forge_action(
        channel=card.channel, ts=card.ts, action_id=MentionAction.RESOLVE, value=other_id
    )
    world.slack.wait_for(lambda s: len([e for e in s.ephemerals if e["user"] == "U0MALLORY"]) == 2)
    assert world.mention(mention_id).state == MentionState.OPEN
    assert world.mention(other_id).state == MentionState.OPEN
    refused = audit_entries(world, action="mention.refused")
    assert len(refused) == 2 and all(e.actor_id == "U0MALLORY" for e in refused)


def _race(world: FakeWorld, mention_id: str) -> None:
    card = posted_card(world, mention_id)
    users = [world.user(f"U0R{i:02d}", f"racer{i}") for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(
                lambda u: u.forge_action(
                    channel=card.channel,
                    ts=card.ts,
                    action_id=MentionAction.CLAIM,
                    value=mention_id,
                ),
                users,
            )
        )
    assert all(r.status_code == 200 for r in responses)
    world.slack.wait_for(lambda s: len(s.ephemerals) == 19, timeout=30)
    winner = world.mention(mention_id).claimed_by
    assert winner in {u.user_id for u in users}
    losers = {e["user"] for e in world.slack.ephemerals}
    assert winner not in losers and len(losers) == 19
    assert all(f"Already claimed by <@{winner}>" in e["text"] for e in world.slack.ephemerals)
    assert len(audit_entries(world, action="mention.claim")) == 1


def test_twenty_people_claiming_at_once_produce_one_owner(world: FakeWorld) -> None:
    _race(world, carded(world))


@pytest.mark.postgres
def test_twenty_people_claiming_at_once_on_postgres(
    config: BrandConfig, clock: FakeClock, postgres_url: str
) -> None:
    world = FakeWorld(config=config, database_url=postgres_url, clock=clock).start()
    try:
        _race(world, carded(world))
    finally:
        world.stop()


def test_dismiss_form_problems_are_shown_inline_and_the_form_stays_open(world: FakeWorld) -> None:
    mention_id = carded(world, text="@acme you got hacked, this is a disgrace, lawsuit")
    card = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")  # not a crisis responder
    alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.DISMISS)
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")

    other = {"reason": {"reason_choice": {"selected_option": {"value": "other"}}}}
    answer = alice.submit_view(view["id"], other)
    assert not answer.done and "note" in answer.errors

    spam = {"reason": {"reason_choice": {"selected_option": {"value": "spam"}}}}
    answer = alice.submit_view(view["id"], spam)
    assert answer.errors["reason"] == "Only this segment's responders can do that."
    assert world.mention(mention_id).state == MentionState.OPEN


def test_reroute_to_where_it_already_is_is_refused(world: FakeWorld) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")
    select = {
        "type": "static_select",
        "action_id": MentionAction.REROUTE,
        "block_id": f"mention_actions:{mention_id}",
        "selected_option": {"value": "customer_relations"},
        "action_ts": "1",
    }
    alice.forge_action(
        channel=card.channel,
        ts=card.ts,
        action_id=MentionAction.REROUTE,
        extra={"actions": [select]},
    )
    world.slack.wait_for(lambda s: s.ephemerals)
    assert "already in Customer relations" in world.slack.ephemerals[0]["text"]
    assert len(world.cards()) == 1
