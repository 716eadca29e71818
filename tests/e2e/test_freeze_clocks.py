"""Invariant 7: once a freeze is confirmed, nothing reaches X — whatever the publisher's clock says.

Break: `_pass_gate` reads `now = self.clock.now()` BEFORE it takes the publish gate, and the
freeze check is `Freeze.frozen_at <= now`. A freeze that commits after that clock read (but
before the gate is taken) carries a later `frozen_at`, so the gate does not see it and the post
goes out after the admin was told "frozen" (and it is not named as on its way). The same happens
without any preemption when two replicas' clocks differ: a publisher whose clock is behind the
freezing replica's ignores the freeze for the size of the skew.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.clock import FakeClock
from bot.core.models import DraftState
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import draft_via_slack
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.drafting import said as _said
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction

OPS = "C0OPS"


class PreemptedClock:
    """The publisher reads the clock in `_pass_gate`, then loses the CPU for a second, during
    which the admin freezes (and is told so)."""

    def __init__(self, base: FakeClock, on_gate: Callable[[], None]) -> None:
        self.base, self.on_gate, self.fired = base, on_gate, False

    def now(self) -> datetime:
        value = self.base.now()
        if not self.fired and sys._getframe(1).f_code.co_name == "_pass_gate":
            self.fired = True
            self.base.advance(seconds=1)
            self.on_gate()
        return value

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return self.base.wait(stop, seconds)


class SkewedClock:
    def __init__(self, base: FakeClock, skew: timedelta) -> None:
        self.base, self.skew = base, skew

    def now(self) -> datetime:
        return self.base.now() + self.skew

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return self.base.wait(stop, seconds)


def test_freeze_committed_between_clock_read_and_gate_is_ignored(
    world: FakeWorld, clock: FakeClock
) -> None:
    world.slack.add_channel(OPS, "brand-ops")
    admin = world.user("U0ADMIN", "admin")
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Spring sale starts now")
    assert "publish queue" in _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)

    confirmations: list[str] = []

    def freeze_now() -> None:
        confirmations.append(
            _said(world, admin, lambda: admin.command("/brand", "freeze all Crisis", channel=OPS))
        )

    publisher = world.runtime.publisher
    publisher.ctx = replace(publisher.ctx, clock=PreemptedClock(clock, freeze_now))
    _publish(world)
    assert confirmations and "frozen" in confirmations[0].lower(), confirmations
    assert f"#{draft.id}" not in confirmations[0]  # not named as on its way
    assert world.x.posted_by("acme") == [], (
        f"posted after the freeze was confirmed: {confirmations[0]!r}; state {_draft(world, draft.id).state}"
    )


def test_replica_with_clock_behind_ignores_a_confirmed_freeze(
    world: FakeWorld, clock: FakeClock
) -> None:
    world.slack.add_channel(OPS, "brand-ops")
    admin = world.user("U0ADMIN", "admin")
    replica = world.build_runtime()
    replica.publisher.ctx = replace(
        replica.publisher.ctx, clock=SkewedClock(clock, timedelta(seconds=-2))
    )
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Spring sale starts now")
    assert "publish queue" in _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    clock.advance(seconds=3)
    said = _said(world, admin, lambda: admin.command("/brand", "freeze all Crisis", channel=OPS))
    assert "frozen" in said.lower()
    clock.advance(seconds=1)  # the replica is now 2 s behind: 2 s after its due time
    replica.publisher.publish_due()
    assert world.x.posted_by("acme") == [], (
        f"replica posted after the confirmed freeze; state {_draft(world, draft.id).state}"
    )
    assert _draft(world, draft.id).state != DraftState.POSTED
