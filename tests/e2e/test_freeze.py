"""Freeze, the held queue an unfreeze posts, and /brand who — through the real app over HTTP."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import select
from support import audit_entries

from bot.core import audit
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, Freeze, SlackMessage
from bot.fakes.drafting import approval_card as _card
from bot.fakes.drafting import draft_via_slack
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import said as _said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.freeze.held_queue import HELD_QUEUE
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.held_queue import CANCEL_REASON, MAX_LISTED, HeldAction, post_action

OPS = "C0OPS"  # where the admin runs /brand: not a segment channel


# -- helpers ----------------------------------------------------------------------------------


def _approve(world: FakeWorld, approver: SlackUser, draft: Draft) -> None:
    card = _card(world, draft)
    reply = _said(
        world,
        approver,
        lambda: approver.click(
            channel=card.channel, ts=str(card.ts), action_id=DraftAction.APPROVE
        ),
    )
    assert "publish queue" in reply, reply


def _held_queues(world: FakeWorld) -> list[SlackMessage]:
    world.deliver()
    return world.cards(HELD_QUEUE)


def _shown(world: FakeWorld, queue: SlackMessage) -> dict[str, Any]:
    world.deliver()
    return world.slack.message(queue.channel, str(queue.ts))


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        str(e["action_id"])
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def _click_queue(world: FakeWorld, user: SlackUser, queue: SlackMessage, action_id: str) -> str:
    world.deliver()  # the person sees the message as it is now
    return _said(
        world,
        user,
        lambda: user.click(channel=queue.channel, ts=str(queue.ts), action_id=action_id),
    )


def _forge(
    world: FakeWorld, user: SlackUser, message: SlackMessage, action_id: str, value: str
) -> str:
    """A correctly signed click on `message` with any action id and value (not its buttons')."""
    return _said(
        world,
        user,
        lambda: user.forge_action(
            channel=message.channel, ts=str(message.ts), action_id=action_id, value=value
        ),
    )


def _publish_all(world: FakeWorld, clock: FakeClock) -> None:
    for _ in range(3):  # the hourly limit of the account may spread them out
        world.runtime.publisher.publish_due()
        world.deliver()
        clock.advance(hours=1, minutes=1)


def _people(world: FakeWorld) -> tuple[SlackUser, SlackUser, SlackUser, SlackUser]:
    world.slack.add_channel(OPS, "brand-ops")
    return (
        world.user("U0ALICE", "alice"),
        world.user("U0BOB", "bob"),
        world.user("U0CAROL", "carol"),
        world.user("U0ADMIN", "admin"),
    )


def _freeze_and_unfreeze(world: FakeWorld, admin: SlackUser, clock: FakeClock) -> str:
    frozen = _said(
        world,
        admin,
        lambda: admin.command("/brand", "freeze all Outage in progress", channel=OPS),
    )
    assert "frozen" in frozen
    clock.advance(minutes=5)
    assert world.runtime.publisher.publish_due() == 0
    return _said(world, admin, lambda: admin.command("/brand", "unfreeze all", channel=OPS))


# -- the held queue ---------------------------------------------------------------------------


def test_unfreeze_posts_one_held_queue_released_and_cancelled_from_it(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice, bob, _carol, admin = _people(world)
    drafts = [draft_via_slack(world, alice, f"Spring promo #{i}\nsecond line") for i in range(6)]
    for draft in drafts:
        _approve(world, bob, draft)

    note = _freeze_and_unfreeze(world, admin, clock)
    assert "6 post(s)" in note and "held" in note
    assert world.runtime.publisher.publish_due() == 0  # nothing is dumped on resume
    assert all(_draft(world, d.id).state == DraftState.HELD for d in drafts)

    queues = _held_queues(world)
    assert len(queues) == 1 and queues[0].channel == OPS and queues[0].ts
    queue = queues[0]
    shown = _shown(world, queue)
    text = str(shown["blocks"])
    for draft in drafts:
        assert draft.text.splitlines()[0] in text  # first line only
    assert "second line" not in text
    assert "@acme" in text and "Customer relations" in text and "approved by bob" in text
    assert text.count(":pause_button: Held") == 6
    ids = [d.id for d in drafts]
    assert _buttons(shown) == [
        *(a for i in ids for a in (f"held_release:{i}", f"held_cancel:{i}")),
        HeldAction.RELEASE_ALL,
        HeldAction.CANCEL_ALL,
    ]
    assert len(shown["blocks"]) <= 50

    released, cancelled, rest = drafts[0], drafts[1], drafts[2:]
    assert released.id is not None and cancelled.id is not None  # stored drafts
    reply = _click_queue(world, bob, queue, post_action(HeldAction.RELEASE, released.id))
    assert "Released" in reply
    assert _draft(world, released.id).state == DraftState.APPROVED
    reply = _click_queue(world, bob, queue, post_action(HeldAction.CANCEL, cancelled.id))
    assert "Cancelled" in reply
    gone = _draft(world, cancelled.id)
    assert gone.state == DraftState.REJECTED and gone.reject_reason == CANCEL_REASON

    shown = _shown(world, queue)
    assert "Released by <@U0BOB>" in str(shown["blocks"])
    assert "Cancelled by <@U0BOB>" in str(shown["blocks"])
    assert f"held_release:{released.id}" not in _buttons(shown)
    assert f"held_cancel:{cancelled.id}" not in _buttons(shown)
    assert world.slack.message(queue.channel, str(queue.ts))["ts"] == queue.ts  # updated in place
    assert len(_held_queues(world)) == 1

    # An admin is not an approver by being an admin: Release all is refused, nothing changes.
    reply = _click_queue(world, admin, queue, HeldAction.RELEASE_ALL)
    assert "Released 0 of 4" in reply and "not an approver" in reply, reply
    assert all(_draft(world, d.id).state == DraftState.HELD for d in rest)

    reply = _click_queue(world, bob, queue, HeldAction.RELEASE_ALL)
    assert "Released 4 of 4" in reply and "Skipped" not in reply, reply
    assert all(_draft(world, d.id).state == DraftState.APPROVED for d in rest)
    shown = _shown(world, queue)
    assert _buttons(shown) == [] and "Nothing listed here is still held" in str(shown["blocks"])

    _publish_all(world, clock)
    _publish_all(world, clock)
    posted = [t["text"] for t in world.x.posted_by("acme")]
    expected = [d.text for d in drafts if d.id != cancelled.id]
    assert sorted(posted) == sorted(expected)  # each released one exactly once, the cancelled never

    dms = [m["text"] for m in world.slack.messages.get("U0ALICE", [])]
    assert len(dms) == 1 and CANCEL_REASON in dms[0] and "Spring promo #1" in dms[0]

    actions = [(e.actor_id, e.action, e.subject) for e in audit_entries(world)]
    with transaction(world.db) as session:
        assert audit.verify(session)[1] is None
    assert ("U0BOB", "draft.release", f"draft:{released.id}") in actions
    assert ("U0BOB", "draft.reject", f"draft:{cancelled.id}") in actions
    assert [a for a in actions if a[1] == "draft.release"] == [
        ("U0BOB", "draft.release", f"draft:{d.id}") for d in [released, *rest]
    ]
    assert sum(1 for a in actions if a[0] == "U0ADMIN" and a[1] == "draft.refused") == 4


def test_a_forged_click_on_the_held_queue_is_refused(world: FakeWorld, clock: FakeClock) -> None:
    alice, bob, carol, admin = _people(world)
    held = [draft_via_slack(world, alice, f"Launch teaser {i}") for i in range(2)]
    for draft in held:
        _approve(world, bob, draft)
    outsider = draft_via_slack(world, alice, "Not approved, not in any queue")
    _freeze_and_unfreeze(world, admin, clock)
    (queue,) = _held_queues(world)
    assert outsider.id is not None and held[0].id is not None  # stored drafts

    # A draft id that isn't in this queue, in a correctly signed click on the queue's message.
    reply = _forge(
        world, carol, queue, post_action(HeldAction.RELEASE, outsider.id), str(outsider.id)
    )
    assert "isn't in this held queue" in reply
    # The action id and the value disagree.
    reply = _forge(
        world, carol, queue, post_action(HeldAction.CANCEL, held[0].id), str(outsider.id)
    )
    assert "doesn't match" in reply
    # Release all pressed "on" a message that is not a held queue (an approval card).
    reply = _forge(world, carol, _card(world, held[0]), HeldAction.RELEASE_ALL, str(1))
    assert "isn't one of my held queues" in reply
    assert _draft(world, outsider.id).state == DraftState.PENDING
    assert all(_draft(world, d.id).state == DraftState.HELD for d in held)
    refused = audit_entries(world, action="held_queue.refused")
    assert len(refused) == 3 and {e.actor_id for e in refused} == {"U0CAROL"}

    # The author may not release her own post from the queue either.
    reply = _click_queue(world, alice, queue, post_action(HeldAction.RELEASE, held[0].id))
    assert "You wrote this draft" in reply
    assert _draft(world, held[0].id).state == DraftState.HELD
    world.runtime.publisher.publish_due()
    assert world.x.posted_by("acme") == []


def test_a_long_held_queue_lists_twenty_and_points_to_the_cards(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice, bob, _carol, admin = _people(world)
    drafts = [draft_via_slack(world, alice, f"Catalogue item {i}") for i in range(MAX_LISTED + 3)]
    for draft in drafts:
        _approve(world, bob, draft)
    note = _freeze_and_unfreeze(world, admin, clock)
    assert f"{MAX_LISTED + 3} post(s)" in note and "the other 3" in note
    (queue,) = _held_queues(world)
    shown = _shown(world, queue)
    assert len(shown["blocks"]) <= 50
    assert all(len(b.get("elements", [])) <= 25 for b in shown["blocks"] if b["type"] == "actions")
    assert "and 3 more — release or reject them on their cards" in str(shown["blocks"])
    assert "Catalogue item 22" not in str(shown["blocks"])

    reply = _click_queue(world, bob, queue, HeldAction.CANCEL_ALL)
    assert f"Cancelled {MAX_LISTED} of {MAX_LISTED}" in reply
    states = [_draft(world, d.id).state for d in drafts]
    assert states == [DraftState.REJECTED] * MAX_LISTED + [DraftState.HELD] * 3


# -- /brand who, help, and who may freeze -------------------------------------------------------


def test_brand_who_names_the_people_behind_a_tweet(world: FakeWorld) -> None:
    alice, bob, carol, _admin = _people(world)
    draft = draft_via_slack(world, alice, "We're back up. Thanks for your patience!")
    _approve(world, bob, draft)
    assert world.runtime.publisher.publish_due() == 1
    (tweet,) = world.x.posted_by("acme")

    story = _said(
        world,
        carol,
        lambda: carol.command(
            "/brand", f"who https://x.com/acme/status/{tweet['id']}?s=20", channel=OPS
        ),
    )
    assert story.startswith("```") and story.endswith("```")
    assert "Drafted by alice (U0ALICE)" in story and "Approved by bob (U0BOB)" in story
    assert f"Tweet {tweet['id']}" in story

    by_id = _said(world, carol, lambda: carol.command("/brand", f"who {tweet['id']}", channel=OPS))
    assert "Approved by bob" in by_id
    unknown = _said(world, carol, lambda: carol.command("/brand", "who 12345", channel=OPS))
    assert unknown == "brandbot did not post that tweet."
    for bad in ("who https://example.com/acme/status/1", "who not-a-tweet", "who"):
        reply = _said(world, carol, partial(carol.command, "/brand", bad, channel=OPS))
        assert "Usage: `/brand who <tweet URL or id>`" in reply, reply


def test_brand_help_lists_the_commands_and_only_admins_freeze(world: FakeWorld) -> None:
    _alice, bob, _carol, admin = _people(world)
    for text in ("", "help", "nonsense"):
        usage = _said(world, bob, partial(bob.command, "/brand", text, channel=OPS))
        assert "/brand freeze" in usage and "/brand unfreeze" in usage and "/brand who" in usage
    refused = _said(world, bob, lambda: bob.command("/brand", "freeze all I can", channel=OPS))
    assert "Only brandbot admins" in refused
    refused = _said(world, bob, lambda: bob.command("/brand", "unfreeze all", channel=OPS))
    assert "Only brandbot admins" in refused
    assert world.runtime.services.freeze.is_frozen("acme") is None
    nothing = _said(world, admin, lambda: admin.command("/brand", "unfreeze", channel=OPS))
    assert "Nothing is frozen" in nothing
    assert _held_queues(world) == []


def test_a_freeze_reason_is_kept_as_typed_though_slack_escapes_it(world: FakeWorld) -> None:
    _alice, _bob, _carol, admin = _people(world)
    # Slack sends & < > in command text as entities
    _said(
        world, admin, lambda: admin.command("/brand", "freeze all Recall &amp; outage", channel=OPS)
    )
    with transaction(world.db) as session:
        (freeze,) = session.scalars(select(Freeze)).all()
    assert freeze.reason == "Recall & outage"
