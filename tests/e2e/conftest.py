"""An isolated brandbot on loopback per test: fake Slack, fake X, the real app over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import TEST_CONFIG

from bot.core.clock import FakeClock, utcnow
from bot.fakes.world import FakeWorld
from policies.config import BrandConfig, parse_config


@pytest.fixture
def config() -> BrandConfig:
    return parse_config(TEST_CONFIG, filename="test.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=utcnow())


@pytest.fixture
def world(config: BrandConfig, database_url: str, clock: FakeClock) -> Iterator[FakeWorld]:
    world = FakeWorld(config=config, database_url=database_url, clock=clock).start()
    world.slack.set_usergroup("S0CRISIS", ["U0CRISIS1", "U0CRISIS2", "U0CRISIS3"])
    world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
    world.slack.set_usergroup("S0ADMIN", ["U0ADMIN"])
    try:
        yield world
        assert world.slack.violations == [], "the app called Slack in ways its API spec forbids"
    finally:
        world.stop()
