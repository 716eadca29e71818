"""The X gateway over the fake X: a tweet by id, quote posts, and X's 2026 reply rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.fakes.world import posting_env
from bot.fakes.x_api import FakeX
from bot.x.gateway import PostingCredentials, XGateway, XRejected, XReplyNotAllowed


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token="bearer") as server:
        yield server


@pytest.fixture
def gateway(fake: FakeX) -> XGateway:
    env = posting_env("ACME", fake.add_user("acme"))
    fake.register_account(
        "acme",
        consumer_key=env["ACME_X_CONSUMER_KEY"],
        consumer_secret=env["ACME_X_CONSUMER_SECRET"],
        access_token=env["ACME_X_ACCESS_TOKEN"],
        access_token_secret=env["ACME_X_ACCESS_TOKEN_SECRET"],
    )
    credentials = PostingCredentials.from_env("ACME", env)
    assert credentials is not None
    return XGateway(
        bearer_token="bearer", api_url=fake.url, timeout=5, credentials={"acme": credentials}
    )


def test_a_tweet_by_id_unescaped_with_its_author_and_none_when_x_has_none(
    fake: FakeX, gateway: XGateway
) -> None:
    seeded = fake.add_tweet(author="dana", text="Acme outage & no refund <again>")
    tweet = gateway.get_tweet(seeded["id"])
    assert tweet is not None
    assert tweet.text == "Acme outage & no refund <again>" and tweet.author_handle == "dana"
    assert tweet.author_id == seeded["author_id"] and tweet.quoted is None
    assert gateway.get_tweet("999999") is None


def test_a_quote_post_is_posted_and_read_back_as_quoting(fake: FakeX, gateway: XGateway) -> None:
    hit = fake.add_tweet(author="dana", text="Acme outage in Leeds")
    quote_id = gateway.post("acme", "Engineers are on site, Leeds", quote_of=hit["id"])
    tweet = gateway.get_tweet(quote_id)
    assert tweet is not None and tweet.quoted == hit["id"] and tweet.replied_to is None
    assert [t.quoted for t in gateway.recent_posts("acme", since=hit_time(hit))] == [hit["id"]]


def test_a_reply_x_refuses_under_its_reply_rule_is_a_distinct_refusal(
    fake: FakeX, gateway: XGateway
) -> None:
    hit = fake.add_tweet(author="dana", text="Acme outage in Leeds")
    with pytest.raises(XReplyNotAllowed, match="don't mention @acme"):
        gateway.post("acme", "@dana sorry!", in_reply_to=hit["id"])
    with pytest.raises(XRejected) as other:  # a reply to a deleted tweet is another refusal
        gateway.post("acme", "@dana sorry!", in_reply_to="12345")
    assert not isinstance(other.value, XReplyNotAllowed)
    summoned = fake.add_tweet(author="dana", text="@acme outage in Leeds")
    assert gateway.post("acme", "@dana sorry!", in_reply_to=summoned["id"])


def hit_time(tweet: dict[str, Any]) -> datetime:
    """A little before the tweet was created: where a search of recent posts starts."""
    return datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")) - timedelta(minutes=1)
