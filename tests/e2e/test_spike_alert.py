"""A storm of negative tweets on X → one poll → one spike alert in the crisis channel → an admin
freezes scheduled posts from it → nothing publishes. Through the real app over signed HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from support import audit_entries

from bot.alerts.spikes import SPIKE_ALERT
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import DraftState, Freeze, SlackMessage, SpikeAlert
from bot.fakes.drafting import get_draft, publish, said
from bot.fakes.services import add_draft
from bot.fakes.traffic import STORM_TEXTS
from bot.fakes.world import FakeWorld
from bot.slack.cards.spike_alert import SpikeAction


def _storm_on_x(world: FakeWorld, clock: FakeClock, count: int) -> None:
    for i in range(count):
        text = STORM_TEXTS[i % len(STORM_TEXTS)].format(account="acme")
        world.x.add_tweet(
            author=f"angry{i}",
            text=f"{text} #{i}",
            created_at=clock.now() - timedelta(seconds=i * 20),
        )


def _alert(world: FakeWorld) -> SlackMessage:
    world.deliver()
    (alert,) = world.cards(SPIKE_ALERT)
    assert alert.ts is not None
    return alert


def _shown(world: FakeWorld, alert: SlackMessage) -> dict[str, Any]:
    world.deliver()
    return world.slack.message(alert.channel, str(alert.ts))


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        str(e["action_id"])
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def _freezes(world: FakeWorld) -> list[Freeze]:
    with transaction(world.db) as session:
        return list(session.scalars(select(Freeze)))


def test_a_storm_alerts_and_an_admin_freezes_scheduled_posts(
    world: FakeWorld, clock: FakeClock
) -> None:
    promotion = add_draft(
        world.db,
        state=DraftState.APPROVED,
        at=clock.now() + timedelta(minutes=5),
        channel="C0CUSTOMER",
        segment="customer_relations",
        text="Flash sale today only: 20% off everything",
        approved_by=["U0BOB"],  # ready to go: only the freeze stops it
    )
    on_its_way = add_draft(  # handed to X before the freeze; X's answer never came
        world.db, state=DraftState.POSTING, at=clock.now(), text="Our new phone is here"
    )
    _storm_on_x(world, clock, 14)
    clock.advance(seconds=world.config.poll_seconds)
    world.poll()  # the detector runs right after the poll that read the storm
    alert = _alert(world)
    assert alert.channel == "C0CRISIS"
    shown = _shown(world, alert)
    text = str(shown["blocks"])
    assert "Spike in mentions of @acme" in text and "14 negative" in text
    assert "hacked" in text or "breach" in text  # top terms
    assert (
        sum(1 for b in shown["blocks"] if str(b.get("block_id", "")).startswith("spike_example:"))
        == 5
    )
    assert _buttons(shown) == [SpikeAction.FREEZE]

    # more polls while the storm goes on: still one alert
    for _ in range(4):
        _storm_on_x(world, clock, 3)
        clock.advance(seconds=world.config.poll_seconds)
        world.poll()
    assert len(world.cards(SPIKE_ALERT)) == 1

    mallory = world.user("U0MALLORY", "mallory")
    refused = said(
        world,
        mallory,
        lambda: mallory.click(
            channel=alert.channel, ts=str(alert.ts), action_id=SpikeAction.FREEZE
        ),
    )
    assert "Only brandbot admins" in refused
    assert _freezes(world) == []
    assert audit_entries(world, action="spike.refused")

    admin = world.user("U0ADMIN", "admin")
    confirmed = said(
        world,
        admin,
        lambda: admin.click(channel=alert.channel, ts=str(alert.ts), action_id=SpikeAction.FREEZE),
    )
    assert "Publishing is frozen for all" in confirmed, confirmed
    assert f"#{on_its_way.id} @acme" in confirmed  # invariant 7: what was already on its way
    (freeze,) = _freezes(world)
    assert freeze.scope == "all" and "spike alert on @acme" in freeze.reason
    after = _shown(world, alert)
    assert _buttons(after) == []  # frozen from here: the button is gone
    assert "Frozen by <@U0ADMIN>" in str(after["blocks"])

    # a second click (a stale screen) freezes nothing more
    again = said(
        world,
        admin,
        lambda: admin.forge_action(
            channel=alert.channel,
            ts=str(alert.ts),
            action_id=SpikeAction.FREEZE,
            value=str(_spike_id(world)),
        ),
    )
    assert "already froze" in again
    assert len(_freezes(world)) == 1

    # the promotion's time comes: nothing goes out into the storm
    clock.advance(minutes=6)
    assert publish(world) == 0
    held = get_draft(world, promotion.id)
    assert held.state == DraftState.APPROVED and "frozen" in (held.held_reason or "")
    assert [t for t in world.x.tweets.values() if t.get("text", "").startswith("Flash sale")] == []


def test_a_forged_freeze_on_another_message_is_refused(world: FakeWorld, clock: FakeClock) -> None:
    _storm_on_x(world, clock, 12)
    clock.advance(seconds=world.config.poll_seconds)
    world.poll()
    alert = _alert(world)
    admin = world.user("U0ADMIN", "admin")
    wrong = said(
        world,
        admin,
        lambda: admin.forge_action(
            channel=alert.channel, ts=str(alert.ts), action_id=SpikeAction.FREEZE, value="999"
        ),
    )
    assert "doesn't match" in wrong
    elsewhere = said(
        world,
        admin,
        lambda: admin.forge_action(
            channel="C0CUSTOMER",
            ts="1.000",
            action_id=SpikeAction.FREEZE,
            value=str(_spike_id(world)),
        ),
    )
    assert "isn't one of my spike alerts" in elsewhere
    assert _freezes(world) == []


def _spike_id(world: FakeWorld) -> int:
    with transaction(world.db) as session:
        spike = session.scalars(select(SpikeAlert)).one()
        assert spike.id is not None
        return spike.id
