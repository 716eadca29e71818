"""A care complaint reads negative on its card and is routed by it; the brand's own terms count."""

from __future__ import annotations

import pytest
from support import TEST_CONFIG

from bot.fakes.world import FakeWorld
from policies.config import BrandConfig, parse_config

# The brand's own word: a sold-out flavour is bad news for this brand's care team.
OWN_TERMS = "sentiment:\n  extra_terms:\n    sold out: -3\nrouting:\n"


@pytest.fixture
def config() -> BrandConfig:
    return parse_config(TEST_CONFIG.replace("routing:\n", OWN_TERMS, 1), filename="test.yaml")


def _card_text(world: FakeWorld, tweet_id: str) -> str:
    card = world.card(tweet_id)
    assert card.ts is not None, "the card was not posted"
    return str(world.slack.message(card.channel, card.ts)["blocks"])


def test_the_card_says_negative_with_the_score_and_the_complaint_is_routed_by_it(
    world: FakeWorld,
) -> None:
    # No routing keyword in it: only its sentiment (below -0.5) takes it to reputation management.
    billing = world.x.add_tweet(author="dana", text="@acme charged twice and still waiting")
    question = world.x.add_tweet(author="sam", text="@acme which room is the keynote in?")
    sold_out = world.x.add_tweet(author="lee", text="@acme mango is sold out everywhere")
    world.poll()
    world.deliver()

    complaint = world.mention(billing["id"])
    assert complaint.sentiment < -0.5  # plain VADER: -0.20, not even below the threshold
    assert complaint.segment == "reputation_management"
    assert f"Sentiment negative ({complaint.sentiment:+.2f})" in _card_text(world, billing["id"])
    assert world.mention(question["id"]).segment == "customer_relations"
    assert "Sentiment neutral (0.00)" in _card_text(world, question["id"])
    assert world.mention(sold_out["id"]).segment == "reputation_management"
    assert "Sentiment negative" in _card_text(world, sold_out["id"])
