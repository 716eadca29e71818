"""Is this tweet the draft's post? Whole text, links by their expanded URL, the reply target."""

from __future__ import annotations

import pytest

from policies.tweet_match import Match, same_post, tweet_id_of

SHOES = "Flash sale today only https://acme.com/shoes"
TCO = "https://t.co/AbCdEf1234"

CASES = [
    # (id, draft text, draft reply-to, tweet text, links, tweet reply-to, expected)
    ("identical", SHOES, None, SHOES, [], None, Match.SAME),
    ("other link", SHOES, None, SHOES.replace("shoes", "jackets"), [], None, Match.DIFFERENT),
    (
        "t.co expands to it",
        SHOES,
        None,
        f"Flash sale today only {TCO}",
        [(TCO, "https://acme.com/shoes")],
        None,
        Match.SAME,
    ),
    (
        "t.co expands elsewhere",
        SHOES,
        None,
        f"Flash sale today only {TCO}",
        [(TCO, "https://acme.com/jackets")],
        None,
        Match.DIFFERENT,
    ),
    ("t.co without expansion", SHOES, None, f"Flash sale today only {TCO}", [], None, Match.UNSURE),
    (
        "other words",
        SHOES,
        None,
        f"Flash sale tomorrow {TCO}",
        [(TCO, "https://acme.com/shoes")],
        None,
        Match.DIFFERENT,
    ),
    (
        "bare domain gains http",
        "See acme.com/shoes now",
        None,
        f"See {TCO} now",
        [(TCO, "http://acme.com/shoes")],
        None,
        Match.SAME,
    ),
    ("trailing spaces and NFC", "Caf\u00e9 open ", None, "Cafe\u0301 open", [], None, Match.SAME),
    ("reply to another tweet", "@dana thanks!", "111", "@dana thanks!", [], "222", Match.DIFFERENT),
    ("a reply is not a tweet", "@dana thanks!", "111", "@dana thanks!", [], None, Match.DIFFERENT),
    ("same reply", "@dana thanks!", "111", "@dana thanks!", [], "111", Match.SAME),
    (
        "two links in order",
        "a https://acme.com/1 b https://acme.com/2",
        None,
        f"a {TCO} b https://t.co/Zz9",
        [(TCO, "https://acme.com/1"), ("https://t.co/Zz9", "https://acme.com/2")],
        None,
        Match.SAME,
    ),
    (
        "two links swapped",
        "a https://acme.com/1 b https://acme.com/2",
        None,
        f"a {TCO} b https://t.co/Zz9",
        [(TCO, "https://acme.com/2"), ("https://t.co/Zz9", "https://acme.com/1")],
        None,
        Match.DIFFERENT,
    ),
]


@pytest.mark.parametrize(
    ("draft", "draft_reply", "tweet", "links", "tweet_reply", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_same_post(
    draft: str,
    draft_reply: str | None,
    tweet: str,
    links: list[tuple[str, str]],
    tweet_reply: str | None,
    expected: Match,
) -> None:
    got = same_post(
        draft_text=draft,
        draft_reply_to=draft_reply,
        tweet_text=tweet,
        tweet_links=links,
        tweet_reply_to=tweet_reply,
    )
    assert got == expected


QUOTE_CASES = [
    # (id, draft quotes, tweet quotes, expected) — same text, no reply target
    ("same quote", "111", "111", Match.SAME),
    ("quotes another tweet", "111", "222", Match.DIFFERENT),
    ("a quote is not a plain tweet", "111", None, Match.DIFFERENT),
    ("a plain tweet is not a quote", None, "111", Match.DIFFERENT),
    ("neither quotes", None, None, Match.SAME),
]


@pytest.mark.parametrize(
    ("draft_quote", "tweet_quote", "expected"),
    [c[1:] for c in QUOTE_CASES],
    ids=[c[0] for c in QUOTE_CASES],
)
def test_a_quote_post_must_quote_the_same_tweet(
    draft_quote: str | None, tweet_quote: str | None, expected: Match
) -> None:
    got = same_post(
        draft_text="We hear you, Leeds",
        draft_reply_to=None,
        tweet_text="We hear you, Leeds",
        tweet_links=[],
        tweet_reply_to=None,
        draft_quote_of=draft_quote,
        tweet_quoted=tweet_quote,
    )
    assert got == expected


REFERENCES = [
    ("1850000000000000001", "1850000000000000001"),
    ("  1850000000000000001\n", "1850000000000000001"),
    ("https://x.com/acme/status/1850000000000000001", "1850000000000000001"),
    ("https://twitter.com/acme/status/1850000000000000001?s=20", "1850000000000000001"),
    ("x.com/i/status/1850000000000000001", "1850000000000000001"),
    ("https://mobile.twitter.com/Acme/status/1850000000000000001/photo/1", "1850000000000000001"),
    ("https://x.com/i/web/status/42", "42"),
    ("https://example.com/acme/status/1850000000000000001", None),
    ("https://x.com/acme", None),
    ("tweet 42", None),
    ("", None),
]


@pytest.mark.parametrize(("pasted", "expected"), REFERENCES)
def test_a_pasted_tweet_url_or_id_gives_its_id(pasted: str, expected: str | None) -> None:
    assert tweet_id_of(pasted) == expected
