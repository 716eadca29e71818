"""What brandbot asks X for: search queries per segment, and whose mentions to poll.

Decisions:

- Keywords alone would search all of X ("outage" anywhere), so keyword terms are AND-ed with
  the brand terms: the brand name (lower-cased, quoted if it is not one word) and each account
  as ``@handle``: ``(outage OR refund) (acme OR @acme) -is:retweet``.
- Hashtags and authors are specific enough to search alone:
  ``(#acmeconf OR from:bob) -is:retweet``; with keywords as well, X evaluates AND before OR:
  ``((outage OR refund) (acme OR @acme) OR #acmeconf OR from:bob) -is:retweet``.
- A keyword that is not a single plain word (a phrase, ``c++``, ``OR``) is quoted.
- ``follow.lang`` narrows the query (``lang:en``, or ``(lang:en OR lang:es)``). ``regex`` and
  ``sentiment_below`` cannot be searched for: they only sort what is already fetched, so a follow
  with nothing but those has no query (it routes from the mention stream and other searches).
- Retweets are never fetched (``-is:retweet``): they repeat a tweet that already has a card.
- When the accounts' mentions timelines are polled, a search leaves out what they already find
  (``-@acme``), and its keywords are AND-ed with the brand name only: a tweet that names
  ``@acme`` comes from the mentions timeline, an owned read at about a fifth of a search read.
  Routing reads the tweet, not where it came from, so the mention lands in the same segment.
  (X serves only the ~800 newest mentions per poll; the poller stays at ``poll_seconds`` while
  mentions flow, which keeps a storm well inside that.)
- X's recent-search query limit is 512 characters (the smallest tier's). `parse_config`
  rejects a config whose query would be longer; queries are never truncated, because a
  truncated query silently stops following something.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.config import BrandConfig, FollowRules

X_QUERY_MAX_CHARS = 512

_PLAIN_WORD = re.compile(r"\w+")
_OPERATOR_WORDS = frozenset({"OR", "AND", "NOT"})


def search_term(text: str) -> str:
    """One keyword as an X query term: bare if it is a plain word, else a quoted phrase."""
    if _PLAIN_WORD.fullmatch(text) and text.upper() not in _OPERATOR_WORDS:
        return text
    return '"' + text.replace('"', " ").strip() + '"'


def any_of(terms: Iterable[str]) -> str:
    """``a`` for one term, ``(a OR b)`` for several."""
    unique = list(dict.fromkeys(terms))
    return unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")"


def brand_terms(config: BrandConfig, *, with_handles: bool = True) -> list[str]:
    """What a tweet must contain to be about the brand: its name and (unless the mentions
    timelines find those) each @handle."""
    terms = [search_term(config.brand.lower())]
    if with_handles:
        terms += [f"@{account.handle.lower()}" for account in config.accounts]
    return list(dict.fromkeys(terms))


def follow_query(
    follow: FollowRules, brand: list[str], *, excluded: Iterable[str] = ()
) -> str | None:
    """The recent-search query for one segment's follow rules, or None if it needs none."""
    alternatives: list[str] = []
    if follow.keywords:
        alternatives.append(f"{any_of(search_term(k) for k in follow.keywords)} {any_of(brand)}")
    alternatives += follow.hashtags
    alternatives += [f"from:{author}" for author in follow.authors]
    if not alternatives:
        return None
    parts = [any_of(alternatives)]
    if follow.lang:
        parts.append(any_of(f"lang:{lang}" for lang in follow.lang))
    parts += [f"-{term}" for term in excluded]
    parts.append("-is:retweet")
    return " ".join(parts)


def segment_search_queries(config: BrandConfig) -> dict[str, str]:
    """Segment name → its X recent-search query, in file order; segments needing none omitted.
    What the polled mentions timelines find is left out of every search."""
    timelines = [f"@{handle.lower()}" for handle in mention_accounts(config)]
    brand = brand_terms(config, with_handles=not timelines)
    excluded = list(dict.fromkeys(timelines))
    queries: dict[str, str] = {}
    for name, segment in config.segments.items():
        query = follow_query(segment.follow, brand, excluded=excluded)
        if query is not None:
            queries[name] = query
    return queries


def mention_accounts(config: BrandConfig) -> list[str]:
    """Handles whose mention timelines must be polled: all, if any segment follows mentions."""
    if any(segment.follow.mentions for segment in config.segments.values()):
        return [account.handle for account in config.accounts]
    return []
