"""Delete from X: claimed once however many confirm at once, audited when X refuses, allowed
during a freeze (review items 12, 13, 14)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from support import audit_entries

from bot.core.models import AuditEntry, Draft, DraftState
from bot.fakes.drafting import approval_card as _card
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import draft_via_slack
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction


def _posted(world: FakeWorld, text: str) -> Draft:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), text)
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    assert _publish(world) == 1
    return _draft(world, draft.id)


def _entries(world: FakeWorld, action: str, draft: Draft) -> list[AuditEntry]:
    return audit_entries(world, action=action, subject=f"draft:{draft.id}")


def test_three_people_confirming_at_once_send_one_delete_and_all_are_told_it_is_done(
    world: FakeWorld,
) -> None:
    world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL", "U0DAVE"])
    draft = _posted(world, "Wrong price in this one")
    assert "another approver" in _click(
        world, world.user("U0BOB", "bob"), draft, DraftAction.DELETE
    )
    world.deliver()
    confirmers = [
        world.user("U0CAROL", "carol"),
        world.user("U0DAVE", "dave"),
        world.user("U0ADMIN", "admin"),
    ]
    card = _card(world, draft)
    seen = len(world.slack.ephemerals)

    def confirm(user: SlackUser) -> int:
        reply = user.click(channel=card.channel, ts=str(card.ts), action_id=DraftAction.DELETE)
        return reply.status_code

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(confirm, confirmers)) == [200, 200, 200]
    world.slack.wait_for(lambda s: len(s.ephemerals) >= seen + 3)
    replies = [e["text"] for e in world.slack.ephemerals[seen:]]
    assert len(world.x.calls_to("DELETE /2/tweets")) == 1
    assert sum("Deleted from X" in r for r in replies) == 1, replies
    assert all(
        "Deleted from X" in r or "Already deleted" in r or "deleting it from X right now" in r
        for r in replies
    ), replies
    assert not any("try again" in r for r in replies)
    assert world.x.posted_by("acme") == []
    assert _draft(world, draft.id).state == DraftState.DELETED


def test_a_delete_x_refuses_is_audited_and_the_tweet_stays_deletable(world: FakeWorld) -> None:
    draft = _posted(world, "Typo in this tweet")
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.DELETE)
    world.deliver()
    world.x.fail("DELETE /2/tweets", status=503)
    carol = world.user("U0CAROL", "carol")
    assert "X did not delete it" in _click(world, carol, draft, DraftAction.DELETE)
    assert _draft(world, draft.id).state == DraftState.POSTED
    (failed,) = _entries(world, "draft.delete_failed", draft)
    assert failed.actor_id == "U0CAROL" and "503" in str(failed.after)
    world.deliver()
    assert "Deleted from X" in _click(world, carol, draft, DraftAction.DELETE)
    assert world.x.posted_by("acme") == []


def test_a_tweet_already_gone_from_x_is_recorded_as_deleted(world: FakeWorld) -> None:
    draft = _posted(world, "Gone already")
    world.x.fail("DELETE /2/tweets", status=404)  # deleted on X directly, say
    reply = _click(world, world.user("U0ADMIN", "admin"), draft, DraftAction.DELETE)
    assert "Deleted from X (X no longer had it)" in reply
    assert _draft(world, draft.id).state == DraftState.DELETED


def test_delete_from_x_works_during_a_freeze_and_still_needs_two_people(
    world: FakeWorld,
) -> None:
    """Decision (docs/decisions.md): a freeze stops posting, not take-downs — removing a
    tweet is what a crisis needs; the two-person rule still holds."""
    draft = _posted(world, "Tone-deaf in this crisis")
    admin = world.user("U0ADMIN", "admin")
    admin.command("/brand", "freeze all Outage", channel="C0CUSTOMER")
    world.slack.wait_for(lambda s: any("frozen" in e["text"] for e in s.ephemerals))
    assert "another approver" in _click(
        world, world.user("U0BOB", "bob"), draft, DraftAction.DELETE
    )
    assert len(world.x.posted_by("acme")) == 1
    world.deliver()
    assert "Deleted from X" in _click(
        world, world.user("U0CAROL", "carol"), draft, DraftAction.DELETE
    )
    assert world.x.posted_by("acme") == []
    assert world.runtime.services.freeze.is_frozen("acme") is not None
