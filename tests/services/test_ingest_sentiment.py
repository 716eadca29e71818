"""Ingest scores each mention with the care lexicon and the brand's own terms, and routes on it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from support import TEST_CONFIG

from bot.core.db import transaction
from bot.core.models import Mention
from bot.fakes.services import ServiceKit

OWN_TERMS = "sentiment:\n  extra_terms:\n    out of stock: -3\n    restocked: 2\nrouting:\n"


def _stored(kit: ServiceKit) -> dict[str, tuple[float, str]]:
    """Each stored mention's sentiment and segment, by tweet id."""
    with transaction(kit.engine) as session:
        return {m.id: (m.sentiment, m.segment) for m in session.scalars(select(Mention))}


def test_a_care_complaint_is_stored_negative_and_a_question_neutral(kit: ServiceKit) -> None:
    outage = kit.x.add_tweet(author="dana", text="@acme outage again, refund please")["id"]
    question = kit.x.add_tweet(author="erin", text="@acme which room is the keynote in?")["id"]
    kit.ingestor.poll_due()
    stored = _stored(kit)
    assert stored[outage] == (-0.7184, "customer_relations")  # VADER alone: +0.32
    assert stored[question] == (0.0, "customer_relations")


def test_the_brands_own_terms_are_scored_and_route_a_mention(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(TEST_CONFIG.replace("routing:\n", OWN_TERMS, 1))
    # reputation_management follows anything below -0.5: "out of stock" is that bad for this brand.
    gone = kit.x.add_tweet(author="dana", text="@acme the blue one is out of stock, AGAIN")["id"]
    back = kit.x.add_tweet(author="erin", text="@acme is the blue one restocked yet?")["id"]
    kit.ingestor.poll_due()
    stored = _stored(kit)
    assert stored[gone][0] < -0.5 and stored[gone][1] == "reputation_management"
    assert stored[back][0] > 0.05


def test_without_the_brands_terms_the_same_tweet_is_neutral(kit: ServiceKit) -> None:
    gone = kit.x.add_tweet(author="dana", text="@acme the blue one is out of stock, AGAIN")["id"]
    kit.ingestor.poll_due()
    assert _stored(kit)[gone] == (0.0, "customer_relations")
