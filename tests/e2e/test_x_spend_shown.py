"""What reading X costs, where admins look: `/brand segments` and `/brand report` show this
month's reads and estimated spend against the budget, through the real app over the fakes."""

from __future__ import annotations

import pytest
from support import TEST_CONFIG, carded

from bot.core.clock import FakeClock
from bot.fakes.drafting import said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.x.reads import ReadLedger
from policies.config import BrandConfig, parse_config


@pytest.fixture
def config() -> BrandConfig:
    budget = "x_budget: {monthly_reads: 1000, monthly_usd: 50, warn_at_percent: 80}\n"
    return parse_config(TEST_CONFIG + budget, filename="test.yaml")


def brand(world: FakeWorld, user: SlackUser, text: str) -> str:
    return said(world, user, lambda: user.command("/brand", text, channel="C0CUSTOMER"))


def test_segments_and_report_show_the_months_reads_and_spend(
    world: FakeWorld, clock: FakeClock
) -> None:
    admin = world.user("U0ADMIN", "ada")
    carded(world, "@acme outage in Leeds")  # one poll: every source read once
    month = world.clock.now().strftime("%Y-%m")
    ledger = ReadLedger(engine=world.db, clock=world.clock)
    ledger.record("search", 848)  # with the poll's mention and user read: 850

    table = brand(world, admin, "segments")
    line = next(x for x in table.splitlines() if x.startswith(f"*X reads in {month}*"))
    assert "850 reads, about $4.25: 85 % of the budget (1,000 reads and $50.00)" in line
    assert "paused" not in line

    ledger.record("search", 200)
    clock.advance(seconds=world.config.poll_seconds)
    polled = {r.source.split(":")[0] for r in world.poll()}
    assert polled == {"mentions", "timeline"}  # the budget is spent: no searches
    world.deliver()
    table = brand(world, admin, "segments")
    assert "105 % of the budget" in table and "searches paused, mentions still polled" in table
    report = brand(world, admin, "report")
    assert f"X reads in {month}" in report and "105 % of the budget" in report
    warnings = world.slack.find_messages(lambda m: "budget" in str(m.get("text")))
    assert len(warnings) == 2  # 80 % and 100 %, once each

    bob = world.user("U0BOB", "bob")  # not an admin: learns nothing of the spend
    assert "X reads" not in brand(world, bob, "segments")
