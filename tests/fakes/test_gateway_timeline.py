"""The X gateway's own-timeline read over the fake X: the client each tweet came from, native
posts beside API ones, the reply's target and its author, asked as the account itself, and every
read reported to the recorder (posts are not reads)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bot.fakes.world import posting_env
from bot.fakes.x_api import FakeX
from bot.x.gateway import PostingCredentials, XGateway


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token="bearer") as server:
        yield server


def _gateway(fake: FakeX, reads: list[tuple[str, int]]) -> XGateway:
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
        bearer_token="bearer",
        api_url=fake.url,
        timeout=5,
        credentials={"acme": credentials},
        on_read=lambda endpoint, n: reads.append((endpoint, n)),
    )


def test_the_own_timeline_says_which_client_posted_each_tweet(fake: FakeX) -> None:
    reads: list[tuple[str, int]] = []
    gateway = _gateway(fake, reads)
    complaint = fake.add_tweet(author="dana", text="@acme broken again")
    via_api = gateway.post("acme", "Posted through brandbot")
    native = fake.post_natively(
        "acme", "@dana on it", in_reply_to=complaint["id"], source="Twitter Web App"
    )
    assert reads == []  # posting is not a read

    (page,) = list(gateway.timeline("acme", since_id=None, start_time=None))
    by_id = {t.id: t for t in page.tweets}
    assert by_id[via_api].source == "brandbot"
    reply = by_id[native["id"]]
    assert reply.source == "Twitter Web App" and reply.replied_to == complaint["id"]
    assert reply.replied_to_user == complaint["author_id"]
    assert reads == [("user", 1), ("timeline", 2)]  # the account's id, then its tweets
    (call,) = fake.calls_to("GET /2/users/")[-1:]
    assert call.user == "acme"  # asked as the account: an owned read
    assert "source" in call.params["tweet.fields"]


def test_x_gives_no_source_unless_asked_and_native_posts_obey_the_duplicate_rule(
    fake: FakeX,
) -> None:
    fake.add_user("acme")
    tweet = fake.post_natively("acme", "Hello from the web")
    headers = {"Authorization": "Bearer bearer"}
    url = f"{fake.url}/2/tweets/{tweet['id']}"
    plain = requests.get(url, headers=headers, timeout=5).json()["data"]
    asked = requests.get(url, params={"tweet.fields": "source"}, headers=headers, timeout=5)
    assert "source" not in plain and asked.json()["data"]["source"] == "Twitter Web App"
    with pytest.raises(ValueError, match="already has a tweet with this text"):
        fake.post_natively("acme", "Hello from the web")
