"""Is this tweet the draft's post? Whole text, links by their expanded URL, the reply target."""

from __future__ import annotations

import pytest

from policies.tweet_match import Match, same_post

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
