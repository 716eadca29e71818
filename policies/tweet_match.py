"""Is this tweet on X the post of this draft? Used when a post's outcome was unknown.

X gives a tweet back with every link rewritten to t.co and the original in `entities.urls`
(`expanded_url`; a bare domain gains `http://`). So the whole text is compared — the words
exactly, and each link by its expanded URL — never with links masked: two drafts that differ
only in their link ("…/shoes" and "…/jackets") are different posts. A reply must answer the
same tweet, and a quote post quote the same tweet. When a t.co link comes without its expanded
URL the answer is UNSURE, and a person decides; a guess could record another draft's tweet as
this one's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from twitter_text import extract_urls

_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")
_STATUS_URL = re.compile(
    r"(?:https?://)?(?:www\.|mobile\.)?(?:x|twitter)\.com/(?:\w{1,15}|i(?:/web)?)/status(?:es)?/(\d{1,20})(?:[/?#]\S*)?",
    re.IGNORECASE,
)
_PLACEHOLDER = "\x00"


class Match(StrEnum):
    SAME = "same"
    DIFFERENT = "different"
    UNSURE = "unsure"


def same_post(
    *,
    draft_text: str,
    draft_reply_to: str | None,
    tweet_text: str,
    tweet_links: Sequence[tuple[str, str]],
    tweet_reply_to: str | None,
    draft_quote_of: str | None = None,
    tweet_quoted: str | None = None,
) -> Match:
    """Compare a draft with a tweet of the same account (`tweet_text` already unescaped)."""
    if (draft_reply_to or None) != (tweet_reply_to or None):
        return Match.DIFFERENT
    if (draft_quote_of or None) != (tweet_quoted or None):
        return Match.DIFFERENT
    draft = _normal(draft_text)
    tweet = _normal(tweet_text)
    if draft == tweet:
        return Match.SAME
    draft_shape, draft_urls = _shape(draft, extract_urls(draft))
    expanded = dict(tweet_links)
    tweet_urls: list[str] = []
    unsure = False
    for link in _ordered_links(tweet, tweet_links):
        if link in expanded:
            tweet_urls.append(expanded[link])
        else:  # a t.co link X gave no expansion for: it could be anything
            tweet_urls.append("")
            unsure = True
    tweet_shape, _ = _shape(tweet, _ordered_links(tweet, tweet_links))
    if draft_shape != tweet_shape or len(draft_urls) != len(tweet_urls):
        return Match.DIFFERENT
    for mine, theirs in zip(draft_urls, tweet_urls, strict=True):
        if theirs and _url_key(mine) != _url_key(theirs):
            return Match.DIFFERENT
    return Match.UNSURE if unsure else Match.SAME


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _ordered_links(text: str, links: Sequence[tuple[str, str]]) -> list[str]:
    """The t.co links in the order they appear in the text (with or without an expansion)."""
    return [m.group(0) for m in _TCO.finditer(text)] or [link for link, _ in links if link in text]


def _shape(text: str, urls: Sequence[str]) -> tuple[str, list[str]]:
    """The text with each URL (in order) replaced by a placeholder, and the URLs."""
    found: list[str] = []
    rest = text
    pieces: list[str] = []
    for url in urls:
        before, sep, after = rest.partition(url)
        if not sep:
            continue
        pieces.append(before)
        found.append(url)
        rest = after
    pieces.append(rest)
    return _PLACEHOLDER.join(pieces), found


def _url_key(url: str) -> str:
    """A URL as X may expand it: scheme added to a bare domain, host lower-cased, one trailing
    slash on an empty path dropped."""
    full = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(full)
    except ValueError:
        return url
    path = "" if parts.path == "/" else parts.path
    scheme = parts.scheme.lower()
    if scheme == "http":
        scheme = "https"  # X may answer either for a bare domain; the address is the same
    return urlunsplit((scheme, parts.netloc.lower(), path, parts.query, parts.fragment))


def tweet_id_of(reference: str) -> str | None:
    """The tweet id in what a person pasted: an id, or a tweet's URL on x.com or twitter.com
    (with or without the account, query or trailing path); None when it is neither."""
    text = reference.strip()
    if re.fullmatch(r"\d{1,20}", text):
        return text
    found = _STATUS_URL.fullmatch(text)
    return found.group(1) if found else None
