"""FreezeService on a real database: only admins freeze, a freeze stops publishing until lifted or
run out, and what came due meanwhile is held for a person rather than dumped on X."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import Draft, DraftState, Freeze
from bot.fakes.services import ServiceKit
from bot.freeze.held_queue import HELD_QUEUE

WAR_ROOM = "C0CRISIS"


def _freezes(kit: ServiceKit) -> list[Freeze]:
    with transaction(kit.engine) as session:
        return list(session.scalars(select(Freeze)))


def _approved(kit: ServiceKit, text: str) -> Draft:
    return kit.add_draft(DraftState.APPROVED, text=text, approved_by=["U0BOB"])


@pytest.mark.parametrize("command", ["freeze", "unfreeze"])
def test_someone_who_is_not_an_admin_may_not_freeze_or_unfreeze(
    kit: ServiceKit, command: str
) -> None:
    kit.freeze.freeze(person=kit.person("U0ADMIN"), text="all checking a leak")
    act = kit.freeze.freeze if command == "freeze" else kit.freeze.unfreeze

    with pytest.raises(ActionRefused, match="Only brandbot admins"):
        act(person=kit.person("U0BOB"), text="all stop everything", channel=WAR_ROOM)

    (freeze,) = _freezes(kit)
    assert freeze.lifted_at is None and freeze.reason == "checking a leak"
    (entry,) = kit.audit("freeze.refused")
    assert entry.actor_id == "U0BOB" and json.loads(str(entry.after)) == {
        "attempted": command,
        "channel": WAR_ROOM,
        "reason": "Only brandbot admins can freeze or unfreeze publishing.",
    }


def test_a_freeze_is_in_force_until_it_is_lifted(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    assert kit.freeze.is_frozen("acme") is None

    kit.freeze.freeze(person=admin, text="acme phishing wave", channel=WAR_ROOM)
    in_force = kit.freeze.is_frozen("acme")
    assert in_force is not None and (in_force.scope, in_force.frozen_by) == ("acme", "U0ADMIN")

    lifted = kit.freeze.unfreeze(person=admin, text="acme", channel=WAR_ROOM)
    assert (lifted.scope, lifted.held) == ("acme", 0) and kit.freeze.is_frozen("acme") is None
    with pytest.raises(ActionRefused, match="Nothing is frozen"):
        kit.freeze.unfreeze(person=admin, text="all")
    assert [e.action for e in kit.audit(subject="account:acme")] == ["freeze", "unfreeze"]


def test_what_came_due_while_frozen_is_held_when_the_freeze_is_lifted(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    due = _approved(kit, "Our spring promo starts today")
    kit.freeze.freeze(person=admin, text="all outage under investigation", channel=WAR_ROOM)
    assert kit.publisher.publish_due() == 0
    later = kit.add_draft(text="Thanks for your patience today")  # unapproved: not held

    unfrozen = kit.freeze.unfreeze(person=admin, text="all", channel=WAR_ROOM)

    assert (unfrozen.held, unfrozen.listed) == (1, 1)
    held = kit.draft(due.id)
    assert held.state == DraftState.HELD and "release it or reject it" in str(held.held_reason)
    assert kit.draft(later.id).state == DraftState.PENDING
    assert kit.publisher.publish_due() == 0 and kit.x.post_records == []
    kit.deliver()
    (queue,) = kit.messages(HELD_QUEUE)
    assert queue.channel == WAR_ROOM and queue.ts is not None
    shown = str(kit.slack.message(WAR_ROOM, queue.ts)["blocks"])
    assert f"held:{due.id}" in shown and f"held:{later.id}" not in shown


def test_a_timed_freeze_lapses_and_holds_what_came_due(kit: ServiceKit, clock: FakeClock) -> None:
    kit.freeze.freeze(
        person=kit.person("U0ADMIN"), text="all board meeting for 1h", channel=WAR_ROOM
    )
    (freeze,) = _freezes(kit)
    assert freeze.until == kit.clock.now() + timedelta(hours=1)
    due = _approved(kit, "Our spring promo starts today")

    clock.advance(minutes=59)
    assert kit.freeze.lapse_expired() == 0 and kit.freeze.is_frozen("acme") is not None
    clock.advance(minutes=1)
    assert kit.freeze.lapse_expired() == 1

    (lapsed,) = _freezes(kit)
    assert lapsed.lifted_at == kit.clock.now() and lapsed.lifted_by == "brandbot"
    assert kit.freeze.is_frozen("acme") is None
    assert kit.draft(due.id).state == DraftState.HELD
    assert kit.freeze.lapse_expired() == 0  # ends once
    (queue,) = kit.messages(HELD_QUEUE)
    assert queue.channel == WAR_ROOM


def test_unfreezing_one_account_under_a_freeze_of_all_says_what_holds_it(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    kit.freeze.freeze(person=admin, text="all breach under investigation", channel=WAR_ROOM)

    with pytest.raises(ActionRefused) as refused:
        kit.freeze.unfreeze(person=admin, text="acme", channel=WAR_ROOM)

    assert "every account is frozen" in str(refused.value).lower()
    assert "/brand unfreeze all" in str(refused.value)
    assert kit.freeze.is_frozen("acme") is not None  # nothing was lifted
