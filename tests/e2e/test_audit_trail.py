"""Every state change and every refusal leaves an audit entry (review item 12), and /brand freeze
keeps the whole reason and honours a bounded duration (item 11)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy import select
from support import audit_entries

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import DraftState, Freeze
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import draft_via_slack, said
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction


def _actions(world: FakeWorld, subject: str | None = None) -> list[tuple[str, str]]:
    return [(e.actor_id, e.action) for e in audit_entries(world, subject=subject)]


def _said(world: FakeWorld, user_id: str, command: str) -> str:
    user = world.user(user_id, user_id.lower())
    return said(world, user, partial(user.command, "/brand", command, channel="C0CUSTOMER"))


def test_refused_freeze_and_unfreeze_are_audited(world: FakeWorld) -> None:
    assert "Only brandbot admins" in _said(world, "U0BOB", "freeze all I can")
    assert "Only brandbot admins" in _said(world, "U0BOB", "unfreeze all")
    refused = [a for a in _actions(world) if a[1] == "freeze.refused"]
    assert refused == [("U0BOB", "freeze.refused"), ("U0BOB", "freeze.refused")]


def test_a_freeze_keeps_the_whole_reason_and_its_duration(
    world: FakeWorld, clock: FakeClock
) -> None:
    reply = _said(world, "U0ADMIN", "freeze Outage in progress for 2h")
    assert "Publishing is frozen for all until" in reply
    with transaction(world.db) as session:
        (freeze,) = session.scalars(select(Freeze)).all()
    assert freeze.reason == "Outage in progress"
    assert freeze.until == freeze.frozen_at + timedelta(hours=2)
    for bad in ("freeze all Outage for 99999999999d", "freeze all Outage for 31d"):
        assert "from 1 minute to 30 days" in _said(world, "U0ADMIN", bad)
    with transaction(world.db) as session:
        assert len(session.scalars(select(Freeze)).all()) == 1


def test_an_attempt_that_x_fails_and_drafts_held_at_a_freezes_end_are_audited(
    world: FakeWorld, clock: FakeClock
) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    flaky = draft_via_slack(world, alice, "Maintenance tonight")
    _click(world, bob, flaky, DraftAction.APPROVE)
    world.x.fail("POST /2/tweets", status=503)
    assert _publish(world) == 0
    assert [a for _, a in _actions(world, f"draft:{flaky.id}")][-2:] == [
        "draft.attempt",
        "draft.post_unknown",
    ]

    waiting = draft_via_slack(world, alice, "Spring catalogue is out")
    assert "frozen" in _said(world, "U0ADMIN", "freeze all Storm")
    _click(world, bob, waiting, DraftAction.APPROVE)
    clock.advance(minutes=2)
    assert _publish(world) == 0
    assert "held" in _said(world, "U0ADMIN", "unfreeze all")
    assert _draft(world, waiting.id).state == DraftState.HELD
    assert ("U0ADMIN", "draft.hold") in _actions(world, f"draft:{waiting.id}")
