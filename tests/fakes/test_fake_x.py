"""Drive bot.fakes.x_api.FakeX through a real tweepy.Client, as the app's X gateway will."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import tweepy

from bot.fakes.x_api import DUPLICATE, QUOTE_GONE, REPLY_NOT_ALLOWED, FakeX

TWITTER = "https://api.twitter.com"
KEYS = {
    "consumer_key": "ck-acme",
    "consumer_secret": "cs-acme",
    "access_token": "100000-at-acme",
    "access_token_secret": "ats-acme",
}


class RewritingSession(requests.Session):
    """What the gateway does: send tweepy's hard-coded host to the fake instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(TWITTER):
            url = self.base_url + url[len(TWITTER) :]
        return super().request(method, url, *args, **kwargs)


def make_client(fake: FakeX, **credentials: str) -> tweepy.Client:
    client = tweepy.Client(bearer_token=fake.bearer_token, **credentials)
    client.session = RewritingSession(fake.url)
    return client


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        server.add_user("acme", name="Acme Corp")
        server.register_account("acme", **KEYS)
        yield server


@pytest.fixture
def client(fake: FakeX) -> tweepy.Client:
    return make_client(fake, **KEYS)


def acme_id(fake: FakeX) -> str:
    return fake.add_user("acme")


def test_mentions_paging_since_id_returns_each_tweet_once(
    fake: FakeX, client: tweepy.Client
) -> None:
    seeded = [fake.add_tweet(author=f"fan{i}", text=f"@acme help #{i}") for i in range(37)]
    fake.add_tweet(author="bob", text="not about the brand")
    assert [int(t["id"]) for t in seeded] == sorted(int(t["id"]) for t in seeded)

    def poll(since_id: str | None) -> list[tweepy.Response]:
        pages = tweepy.Paginator(
            client.get_users_mentions, acme_id(fake), since_id=since_id, max_results=10,
            expansions=["author_id"], tweet_fields=["created_at", "conversation_id", "entities"],
        )  # fmt: skip
        return list(pages)

    first = poll(None)
    ids = [t.id for page in first for t in page.data]
    assert ids == sorted((int(t["id"]) for t in seeded), reverse=True)  # newest first, no dupes
    assert [page.meta["result_count"] for page in first] == [10, 10, 10, 7]
    assert "next_token" not in first[-1].meta
    tweet = first[0].data[0]
    assert tweet.entities["mentions"][0] == {
        "start": 0, "end": 5, "username": "acme", "id": acme_id(fake)
    }  # fmt: skip
    assert tweet.conversation_id == tweet.id and tweet.created_at is not None
    assert {u.username for u in first[0].includes["users"]} == {f"fan{i}" for i in range(27, 37)}

    newest = first[0].meta["newest_id"]
    fresh = [fake.add_tweet(author="carol", text=f"@ACME again {i}") for i in range(12)]
    second = poll(newest)
    assert [t.id for p in second for t in p.data] == [int(t["id"]) for t in reversed(fresh)]
    assert poll(second[0].meta["newest_id"])[0].meta == {"result_count": 0}


def test_mentions_timeline_is_capped_at_800(fake: FakeX, client: tweepy.Client) -> None:
    fake.add_tweets(10_000, text="@acme number {i}")
    pages = tweepy.Paginator(client.get_users_mentions, acme_id(fake), max_results=100)
    assert sum(len(page.data) for page in pages) == 800
    assert len(fake.mentions_of("acme")) == 10_000


def search_ids(client: tweepy.Client, query: str) -> set[str]:
    found = tweepy.Paginator(client.search_recent_tweets, query, max_results=10).flatten()
    return {str(t.id) for t in found}


def test_search_query_language(fake: FakeX, client: tweepy.Client) -> None:
    def tweet(author: str, text: str, **kw: Any) -> str:
        return str(fake.add_tweet(author=author, text=text, **kw)["id"])

    outage = tweet("carol", "Big outage at @acme today!")
    refund = tweet("dave", "I want a REFUND from Acme.")
    conf = tweet("erin", "See you at #AcmeConf")
    bob = tweet("bob", "hello world")
    rt = tweet("frank", "RT @carol: Big outage at @acme today!", is_retweet=True)
    tweet("gina", "outages are rare, refunds too")  # whole words only
    plain_refund = tweet("hal", "refund please")
    german = tweet("ida", "Acme outage wieder", lang="de")
    fillers = [tweet(f"f{i}", f"outage report {i}") for i in range(15)]  # forces paging

    broad = "(outage OR refund OR #acmeconf OR from:bob) -is:retweet"
    assert search_ids(client, broad) == {outage, refund, conf, bob, plain_refund, german, *fillers}
    branded = "(outage OR refund) (acme OR @acme) -is:retweet"
    assert search_ids(client, branded) == {outage, refund, german}
    assert search_ids(client, "@acme is:retweet") == {rt}
    assert search_ids(client, '"big outage" lang:en') == {outage, rt}
    assert search_ids(client, "outage -(acme OR report)") == set()
    assert fake.tweets[rt]["referenced_tweets"] == [{"type": "retweeted", "id": outage}]

    for bad in ["(outage OR refund", "outage OR", "-is:retweet", "foo:bar", 'say "hi']:
        with pytest.raises(tweepy.BadRequest) as caught:
            client.search_recent_tweets(bad)
        assert caught.value.api_messages[0].startswith("There were errors processing")


def test_rate_limit_raises_too_many_requests_with_reset_time(
    fake: FakeX, client: tweepy.Client
) -> None:
    fake.rate_limit("/2/users/", count=1, reset_in=120)
    with pytest.raises(tweepy.TooManyRequests) as caught:
        client.get_users_mentions(acme_id(fake))
    assert abs(caught.value.reset_time - (time.time() + 120)) <= 2
    assert caught.value.response.headers["x-rate-limit-remaining"] == "0"
    assert caught.value.api_messages == ["Too Many Requests"]
    bearer = {"Authorization": f"Bearer {fake.bearer_token}"}
    ok = requests.get(f"{fake.url}/2/users/by/username/acme", headers=bearer)
    assert ok.json() == {"data": {"id": acme_id(fake), "name": "Acme Corp", "username": "acme"}}
    assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(ok.headers)
    assert [c.status for c in fake.calls_to("/2/users/")] == [429, 200]


def test_injected_failures(fake: FakeX, client: tweepy.Client) -> None:
    fake.fail("GET /2/tweets/search", status=503, count=2)
    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError) as caught:
            client.search_recent_tweets("acme")
        assert caught.value.api_messages == ["Service Unavailable"]
    assert client.search_recent_tweets("acme").meta == {"result_count": 0}

    fake.fail_randomly(0.5, seed=7, statuses=(500, 503))
    outcomes = []
    for _ in range(20):
        try:
            client.get_user(username="acme")
            outcomes.append("ok")
        except tweepy.TwitterServerError:
            outcomes.append("error")
    assert 3 <= outcomes.count("error") <= 17
    fake.stop_failing()
    assert client.get_user(username="acme").data.username == "acme"


def test_create_duplicate_reply_and_delete(fake: FakeX, client: tweepy.Client) -> None:
    mention = fake.add_tweet(author="bob", text="@acme my order is late")
    reply = client.create_tweet(text="@bob sorry! DM us", in_reply_to_tweet_id=mention["id"])
    assert reply.data["text"] == "@bob sorry! DM us"
    assert reply.data["edit_history_tweet_ids"] == [reply.data["id"]]
    stored = fake.tweets[reply.data["id"]]
    assert stored["conversation_id"] == mention["id"]
    assert stored["in_reply_to_user_id"] == mention["author_id"]
    assert [t["id"] for t in fake.posted_by("acme")] == [reply.data["id"]]

    with pytest.raises(tweepy.Forbidden) as caught:
        client.create_tweet(text="@bob sorry! DM us")
    assert caught.value.api_messages == [DUPLICATE]
    assert caught.value.api_messages == [
        "You are not allowed to create a Tweet with duplicate content."
    ]
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        client.create_tweet(text="hi", in_reply_to_tweet_id="12345")
    with pytest.raises(tweepy.BadRequest, match="too long"):
        client.create_tweet(text="x" * 281)

    mine = client.get_users_tweets(acme_id(fake), max_results=5, since_id=mention["id"])
    assert [str(t.id) for t in mine.data] == [reply.data["id"]]
    assert client.delete_tweet(reply.data["id"]).data == {"deleted": True}
    assert reply.data["id"] not in fake.tweets and fake.posted_by("acme") == []
    with pytest.raises(tweepy.Forbidden):
        client.delete_tweet(mention["id"])  # not ours
    with pytest.raises(tweepy.NotFound):
        client.delete_tweet(reply.data["id"])
    assert client.create_tweet(text="@bob sorry! DM us").data["id"]  # allowed again


def test_max_results_out_of_range_is_bad_request(fake: FakeX, client: tweepy.Client) -> None:
    with pytest.raises(tweepy.BadRequest) as caught:
        client.get_users_mentions(acme_id(fake), max_results=4)
    assert caught.value.api_messages == [
        "The `max_results` query parameter value [4] is not between 5 and 100"
    ]
    with pytest.raises(tweepy.BadRequest):
        client.search_recent_tweets("acme", max_results=5)
    with pytest.raises(tweepy.BadRequest):
        client.get_users_tweets(acme_id(fake), max_results=101)
    with pytest.raises(tweepy.BadRequest, match="pagination_token"):
        client.get_users_mentions(acme_id(fake), next_token="abc")  # search's name, not ours


def test_auth(fake: FakeX, client: tweepy.Client) -> None:
    me = client.get_me(user_fields=["created_at"])
    assert (me.data.id, me.data.username) == (int(acme_id(fake)), "acme")
    with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
        client.get_me(user_auth=False)
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="hello", user_auth=False)
    forged = make_client(fake, **{**KEYS, "access_token_secret": "wrong"})
    with pytest.raises(tweepy.Unauthorized) as caught:
        forged.get_me()
    assert caught.value.api_messages == ["Unauthorized"]
    stranger = tweepy.Client(bearer_token="nope")
    stranger.session = RewritingSession(fake.url)
    with pytest.raises(tweepy.Unauthorized):
        stranger.get_user(username="acme")
    missing = client.get_user(username="nobody")
    assert missing.data is None and missing.errors[0]["title"] == "Not Found Error"


def test_dropped_response_after_post_and_hooks(fake: FakeX, client: tweepy.Client) -> None:
    seen: list[dict[str, Any]] = []
    fake.after_post = seen.append
    fake.drop_response_after_post()
    with pytest.raises(requests.ConnectionError):
        client.create_tweet(text="We are back online")
    assert [t["text"] for t in fake.posted_by("acme")] == ["We are back online"]
    assert [t["id"] for t in seen] == [t["id"] for t in fake.posted_by("acme")]
    assert fake.calls_to("POST /2/tweets")[-1].status == 0
    assert fake.calls_to("POST /2/tweets")[-1].user == "acme"
    with pytest.raises(tweepy.Forbidden):  # a blind retry hits the duplicate check
        client.create_tweet(text="We are back online")

    worker = threading.Thread(target=client.create_tweet, kwargs={"text": "second"})
    worker.start()
    fake.wait_for(lambda: len(fake.posted_by("acme")) == 2, timeout=5)
    worker.join()
    with pytest.raises(TimeoutError):
        fake.wait_for(lambda: False, timeout=0.05)


# -- slow posts and their records --------------------------------------------------------------


def test_slow_posts_keep_a_record_and_leave_other_requests_alone(
    fake: FakeX, client: tweepy.Client
) -> None:
    fake.post_delays(before_create=0.6, before_answer=0.3)
    result: dict[str, Any] = {}

    def post() -> None:
        result["id"] = client.create_tweet(text="Slow but sure").data["id"]

    worker = threading.Thread(target=post)
    worker.start()
    fake.wait_for(lambda: len(fake.post_records) == 1, timeout=5)
    assert client.get_user(username="acme").data.username == "acme"  # served while it waits
    (waiting,) = fake.post_records
    assert waiting.created is None and waiting.answered is None and not waiting.done
    assert waiting.text == "Slow but sure" and waiting.user == "acme"
    fake.wait_for(lambda: fake.post_records[0].created is not None, timeout=5)
    assert fake.post_records[0].answered is None  # stored, not answered yet
    assert [t["text"] for t in fake.posted_by("acme")] == ["Slow but sure"]
    worker.join(timeout=5)

    (record,) = fake.post_records
    assert record.tweet_id == result["id"] and record.status == 201 and record.done
    assert record.created is not None and record.answered is not None
    assert record.created - record.arrived >= 0.55
    assert record.answered - record.created >= 0.25

    delays = iter([0.0, 0.2])  # a function is asked once per post
    fake.post_delays(before_create=lambda: next(delays))
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="Slow but sure")  # refused: recorded, nothing created
    fake.drop_response_after_post()
    with pytest.raises(requests.ConnectionError):
        client.create_tweet(text="Lost answer")
    fake.stop_failing()
    fake.fail("POST /2/tweets", status=503)
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="Never stored")
    duplicate, dropped, failed = fake.post_records[1:]
    assert (duplicate.status, duplicate.created, duplicate.tweet_id) == (403, None, None)
    assert duplicate.answered is not None
    assert dropped.status == 0 and dropped.answered is None and dropped.created is not None
    assert dropped.created - dropped.arrived >= 0.15
    assert dropped.tweet_id == fake.posted_by("acme")[-1]["id"]
    assert (failed.status, failed.created, failed.text) == (503, None, "Never stored")
    records = fake.post_records
    records.clear()  # a copy
    assert len(fake.post_records) == 4


# -- t.co links ----------------------------------------------------------------------------------


@pytest.fixture
def shortening() -> Iterator[FakeX]:
    with FakeX(shorten_links=True) as server:
        server.add_user("acme", name="Acme Corp")
        server.register_account("acme", **KEYS)
        yield server


TCO = r"https://t\.co/[A-Za-z0-9]{10}"


def test_links_are_stored_and_returned_as_tco_links(shortening: FakeX) -> None:
    fake = shortening
    client = make_client(fake, **KEYS)
    sent = "New docs at acme.com/docs and https://example.org/a?b=1. Mail help@acme.com"
    created = client.create_tweet(text=sent).data
    pattern = rf"New docs at ({TCO}) and ({TCO})\. Mail help@acme\.com"
    match = re.fullmatch(pattern, created["text"])
    assert match is not None, created["text"]
    assert match[1] != match[2]
    (stored,) = fake.posted_by("acme")
    assert stored["text"] == created["text"] and fake.original_text(created["id"]) == sent
    urls = stored["entities"]["urls"]
    assert [u["expanded_url"] for u in urls] == [
        "http://acme.com/docs",
        "https://example.org/a?b=1",
    ]
    assert [u["display_url"] for u in urls] == ["acme.com/docs", "example.org/a?b=1"]
    assert [u["url"] for u in urls] == [match[1], match[2]]
    assert [stored["text"][u["start"] : u["end"]] for u in urls] == [match[1], match[2]]

    with pytest.raises(tweepy.Forbidden) as caught:  # the duplicate check reads what was sent
        client.create_tweet(text=sent)
    assert caught.value.api_messages == [DUPLICATE]
    again = client.create_tweet(text="Docs: acme.com/docs").data["text"]
    assert again == f"Docs: {match[1]}"  # the same link gets the same t.co link

    seeded = fake.add_tweet(author="bob", text="@acme see https://bob.example.com/x")
    assert re.fullmatch(rf"@acme see {TCO}", seeded["text"])
    assert seeded["entities"]["urls"][0]["expanded_url"] == "https://bob.example.com/x"
    assert seeded["entities"]["mentions"][0]["username"] == "acme"
    assert client.delete_tweet(created["id"]).data == {"deleted": True}
    assert client.create_tweet(text=sent).data["id"]  # allowed again once deleted


def test_users_own_tweets_carry_entities_and_references_when_asked(shortening: FakeX) -> None:
    fake = shortening
    client = make_client(fake, **KEYS)
    mention = fake.add_tweet(author="bob", text="@acme where are the docs?")
    reply = client.create_tweet(
        text="@bob right here: acme.com/docs", in_reply_to_tweet_id=mention["id"]
    ).data
    fields = ["entities", "referenced_tweets", "in_reply_to_user_id", "author_id"]
    mine = client.get_users_tweets(acme_id(fake), max_results=5, tweet_fields=fields)
    (tweet,) = [t.data for t in mine.data]
    assert tweet["id"] == reply["id"] and tweet["text"] == reply["text"]
    assert tweet["referenced_tweets"] == [{"type": "replied_to", "id": mention["id"]}]
    assert tweet["in_reply_to_user_id"] == mention["author_id"]
    assert tweet["entities"]["urls"][0]["expanded_url"] == "http://acme.com/docs"
    assert tweet["entities"]["mentions"][0]["username"] == "bob"
    plain = client.get_users_tweets(acme_id(fake), max_results=5).data[0].data
    assert set(plain) == {"id", "text", "edit_history_tweet_ids"}  # only what was asked for


def test_links_are_left_alone_unless_asked(fake: FakeX, client: tweepy.Client) -> None:
    text = "Read https://acme.com/x now"
    created = client.create_tweet(text=text).data
    assert created["text"] == text and fake.original_text(created["id"]) == text
    (url,) = fake.posted_by("acme")[0]["entities"]["urls"]
    assert url["url"] == url["expanded_url"] == "https://acme.com/x"


def test_a_tweet_by_id_in_xs_shape_and_a_missing_one_as_xs_errors(
    fake: FakeX, client: tweepy.Client
) -> None:
    seeded = fake.add_tweet(author="bob", text="@acme fish & chips <3")
    raw = requests.get(
        f"{fake.url}/2/tweets/{seeded['id']}",
        params={"tweet.fields": "author_id,created_at", "expansions": "author_id"},
        headers={"Authorization": f"Bearer {fake.bearer_token}"},
        timeout=5,
    ).json()
    assert raw["data"]["text"] == "@acme fish &amp; chips &lt;3"  # escaped, as X does
    assert raw["includes"]["users"][0]["username"] == "bob"
    got = client.get_tweet(seeded["id"], tweet_fields=["author_id"])
    assert str(got.data.id) == seeded["id"] and str(got.data.author_id) == seeded["author_id"]

    missing = client.get_tweet("999999", tweet_fields=["author_id"])
    assert missing.data is None
    assert missing.errors[0]["title"] == "Not Found Error"
    assert missing.errors[0]["resource_type"] == "tweet"
    with pytest.raises(tweepy.BadRequest):
        client.get_tweet("not-a-number")


def test_xs_2026_reply_rule_refuses_replies_to_tweets_that_did_not_summon_the_account(
    fake: FakeX, client: tweepy.Client
) -> None:
    search_hit = fake.add_tweet(author="dana", text="another outage in Leeds")
    with pytest.raises(tweepy.Forbidden) as caught:
        client.create_tweet(text="@dana sorry!", in_reply_to_tweet_id=search_hit["id"])
    assert caught.value.api_messages == [REPLY_NOT_ALLOWED]
    assert fake.posted_by("acme") == []

    summoned = fake.add_tweet(author="dana", text="@acme another outage")
    assert client.create_tweet(text="@dana on it", in_reply_to_tweet_id=summoned["id"]).data
    ours = client.create_tweet(text="Status update: all fixed").data
    quoting_us = fake.add_tweet(author="erin", text="is it though?", quote_of=ours["id"])
    assert client.create_tweet(text="@erin yes!", in_reply_to_tweet_id=quoting_us["id"]).data
    assert client.create_tweet(text="and more", in_reply_to_tweet_id=ours["id"]).data  # a thread

    fake.reply_rule = False  # e.g. an enterprise tier, which the rule does not bind
    assert client.create_tweet(text="@dana sorry!", in_reply_to_tweet_id=search_hit["id"]).data


def test_a_quote_post_references_the_quoted_tweet_and_an_unknown_one_is_refused(
    fake: FakeX, client: tweepy.Client
) -> None:
    hit = fake.add_tweet(author="dana", text="another outage in Leeds")
    quote = client.create_tweet(text="We're on it, Leeds", quote_tweet_id=hit["id"]).data
    stored = fake.tweets[quote["id"]]
    assert stored["referenced_tweets"] == [{"type": "quoted", "id": hit["id"]}]
    assert fake.tweets[hit["id"]]["public_metrics"]["quote_count"] == 1
    with pytest.raises(tweepy.Forbidden) as caught:
        client.create_tweet(text="Quoting nothing", quote_tweet_id="12345")
    assert caught.value.api_messages == [QUOTE_GONE]
