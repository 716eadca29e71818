"""When Slack cannot say who is in a user group, every permission check fails closed the same way:
nothing changes, the person reads the one message, and a `*.refused` audit entry records it."""

from __future__ import annotations

from support import audit_entries, carded, posted_card

from bot.core.clock import FakeClock
from bot.core.models import DraftState, MentionState
from bot.fakes.drafting import approval_card, draft_via_slack, get_draft, said
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.mention_card import MentionAction
from bot.slack.directory import SLACK_UNAVAILABLE


def _slack_cannot_list_groups(world: FakeWorld) -> None:
    world.slack.fail_next("usergroups.users.list", status=503, retry_after=None, count=50)


def _refusals(world: FakeWorld, action: str) -> list[str]:
    return [str(e.after) for e in audit_entries(world, action=action)]


def test_a_claim_that_cannot_be_checked_is_refused_clearly_and_audited(world: FakeWorld) -> None:
    mention_id = carded(world, "@acme was there a breach?")  # crisis
    card = posted_card(world, mention_id)
    assert card.channel == "C0CRISIS"  # its responders are a user group
    casey = world.user("U0CRISIS1", "casey")
    _slack_cannot_list_groups(world)

    answer = said(
        world,
        casey,
        lambda: casey.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM),
    )

    assert answer == SLACK_UNAVAILABLE
    assert world.mention(mention_id).state == MentionState.OPEN
    refused = _refusals(world, "mention.refused")
    assert len(refused) == 1 and "claim" in refused[0] and "check your role" in refused[0]


def test_a_reject_that_cannot_be_checked_is_refused_the_same_way(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Back online, thank you!")
    bob = world.user("U0BOB", "bob")  # an approver, through the S0CARE group
    card = approval_card(world, draft)
    before = len(world.slack.views)
    bob.click(channel=card.channel, ts=str(card.ts), action_id=DraftAction.REJECT)
    world.slack.wait_for(lambda s: len(s.views) > before)
    clock.advance(seconds=61)  # past the directory cache
    _slack_cannot_list_groups(world)

    response = bob.submit_view(
        bob.last_view_for("U0BOB")["id"], {"reason": {"value": {"value": "off-brand"}}}
    )

    assert response.errors["reason"] == SLACK_UNAVAILABLE
    assert get_draft(world, draft.id).state == DraftState.PENDING
    refused = _refusals(world, "draft.refused")
    assert len(refused) == 1 and "reject" in refused[0]
