"""An isolated brandbot on loopback per test: fake Slack, fake X, the real app over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.clock import FakeClock, utcnow
from bot.fakes.world import FakeWorld
from policies.config import BrandConfig, parse_config

TEST_CONFIG = """
brand: Acme
admins: ["U0ADMIN"]
accounts:
  - {handle: acme, credentials_env: ACME}
poll_seconds: 15
segments:
  customer_relations:
    channel: C0CUSTOMER
    first_response_minutes: 15
    follow: {keywords: [outage, refund]}
  crisis_management:
    channel: C0CRISIS
    responders: ["S0CRISIS"]
    first_response_minutes: 10
    follow: {keywords: [breach]}
  reputation_management:
    channel: C0REPUTATION
    follow: {sentiment_below: -0.5}
  event_coverage:
    channel: C0EVENTS
    follow: {hashtags: ["#acmeconf"]}
  product_promotion:
    channel: C0PROMO
    follow: {keywords: [promo]}
  issue_advocacy:
    channel: C0ADVOCACY
    follow: {keywords: [privacy]}
routing:
  default_segment: customer_relations
  rules:
    - {segment: crisis_management, keywords: [hacked, lawsuit], sentiment_below: -0.3}
"""


@pytest.fixture
def config() -> BrandConfig:
    return parse_config(TEST_CONFIG, filename="test.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=utcnow())


@pytest.fixture
def world(config: BrandConfig, database_url: str, clock: FakeClock) -> Iterator[FakeWorld]:
    world = FakeWorld(config=config, database_url=database_url, clock=clock).start()
    world.slack.set_usergroup("S0CRISIS", ["U0CRISIS1", "U0CRISIS2"])
    try:
        yield world
        assert world.slack.violations == [], "the app called Slack in ways its API spec forbids"
    finally:
        world.stop()
