"""Draft lint: the rules a tweet draft must pass before it can go for approval.

`lint_draft(text=..., segment=..., link=..., schedule_at=..., now=...)` returns every problem
at once as `LintIssue`s, each tied to the modal input it belongs to (``"text"``, ``"link"`` or
``"schedule"``) and worded for the person drafting. An empty list means the draft may go for
approval. The rules, and the product decisions behind them:

- **The posted text** is `compose_post(text, link)`: the text and the link with surrounding
  whitespace stripped, joined by one space (``"text link"``); a link that is empty or only
  whitespace counts as no link. Length and the fingerprint are taken of this string.
- **Empty text**: text that is empty or only whitespace is refused, even when a link is given
  (a bare link is not a brand tweet).
- **Control characters**: any character of Unicode category Cc other than newline and tab
  (NUL, BEL, ESC, carriage return, DEL, the C1 range, …) is refused and named by code point and
  position, as are lone surrogates and the characters twitter-text calls invalid (U+FEFF,
  U+FFFE, U+FFFF), which X rejects. Format characters such as U+200F RIGHT-TO-LEFT MARK or the
  zero-width joiner inside emoji are legitimate text and allowed.
- **Length**: `policies.text.weighted_length` of the posted text (twitter-text v3: each URL
  counts 23 whatever its length, emoji and CJK count 2) must be at most 280. The message says
  how many characters over, and which weighting rules were in play.
- **Banned terms** (the segment's ``create.banned_terms``) are matched case-insensitively, on
  the NFC form of both sides, as *word prefixes*: a term must start where a word starts (not
  after a letter, digit or ``_``) but may run on into a longer word. Banning "guarantee" thus
  flags "Guarantee", "guaranteed", "guarantees" and "#guarantee", but not "unguaranteed"; a
  phrase's words may be separated by any whitespace ("money  back"). This is the safer reading
  for a brand (inflections are what people actually type); the price is that a short term also
  flags longer words that begin with it ("free" flags "freedom"), so admins should ban phrases
  ("free shipping") rather than short stems. Terms that begin with a character of a script
  written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) match anywhere,
  since there is no word start to anchor to (and end where the term ends). The text and the
  link are checked separately (``acme.com/guaranteed`` is an issue on the link). Each
  matching term is reported once, quoting the first place it matched.
- **Links**: every URL that X would turn into a link (found with ``twitter_text.extract_urls``,
  so bare domains like ``acme.com/x`` count, exactly as X counts them) and the link field must
  point to a host equal to, or a subdomain of, one of the segment's
  ``create.allowed_link_domains``. Hosts are compared lower-cased and in their ASCII (IDNA)
  form, so look-alikes such as ``acme.com.evil.io``, ``evilacme.com`` or ``acme.com`` spelt with
  a Cyrillic "a" (U+0430) are refused. When that list is empty, any link is allowed. Text that X does not
  link (``support@acme.com``, ``https://acme.com@evil.io``) is not a link and is not checked.
- **The link field** must be exactly one URL that X would link: ``http(s)://`` or a bare domain
  with a known TLD, no spaces; anything else (``ftp://…``, ``localhost``, two URLs) is malformed.
- **Schedule**: `schedule_at` must not be more than 60 seconds before `now`. The grace covers
  Slack's minute-granular time picker (picking the current minute) and the seconds spent
  submitting; a draft scheduled for "just now" is posted as soon as it is approved. A schedule
  more than 90 days after `now` is refused too: approvals and the brand's situation go stale
  over a quarter, and a forgotten tweet should not surface next year. Both datetimes must be
  time-zone aware (a naive one is a programming error and raises `ValueError`). Lint judges
  the schedule when the draft is checked; a schedule that passes while waiting for approval is
  the publisher's concern.

`text_fingerprint(text)` is the SHA-256 (hex) of the NFC form of the posted text, UTF-8
encoded. X normalises tweets to NFC (twitter-text counts the NFC form), so two texts that differ
only in normalisation (``e`` + U+0301 versus ``é``) are the same tweet and share a fingerprint,
while any visible change makes a new one. Approvals bind to this hash.

Pure: no I/O and no clock; the caller passes `now`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from twitter_text import extract_urls

from policies.config import Segment
from policies.text import MAX_WEIGHTED_LENGTH, weighted_length

SCHEDULE_GRACE = timedelta(seconds=60)
MAX_SCHEDULE_AHEAD = timedelta(days=90)
URL_WEIGHT = 23

# Characters X refuses outright (twitter-text's invalid_chars).
_X_INVALID = frozenset("\ufeff\ufffe\uffff")
_ALLOWED_CONTROLS = frozenset("\n\t")
# Scripts written without spaces between words: a banned term there has no word start.
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR")


@dataclass(frozen=True)
class LintIssue:
    field: str  # "text", "link", "schedule": the modal input it belongs to
    message: str  # what is wrong and what to do, for the person drafting


def compose_post(text: str, link: str | None = None) -> str:
    """The text as it will be posted: ``"<text> <link>"``, both stripped; no link, just text."""
    link = (link or "").strip()
    return f"{text.strip()} {link}" if link else text.strip()


def text_fingerprint(text: str) -> str:
    """SHA-256 hex of the NFC form of the posted text; approvals bind to it."""
    normal = unicodedata.normalize("NFC", text)
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()


def lint_draft(
    *,
    text: str,
    segment: Segment,
    link: str | None = None,
    schedule_at: datetime | None = None,
    now: datetime,
) -> list[LintIssue]:
    """Every rule the draft breaks, in the order text, link, schedule; empty means OK."""
    if now.utcoffset() is None:
        raise ValueError("now must be a time-zone aware datetime")
    link = (link or "").strip() or None
    rules = segment.create
    issues: list[LintIssue] = []

    if not text.strip():
        issues.append(LintIssue("text", "The tweet is empty; write the text of the tweet."))
    issues += [LintIssue("text", m) for m in _bad_character_messages(text)]
    length = _length_message(compose_post(text, link), has_link=link is not None)
    if length:
        issues.append(LintIssue("text", length))
    issues += [LintIssue("text", m) for m in _banned_messages(text, rules.banned_terms)]
    issues += [
        LintIssue("text", m)
        for m in _link_messages(extract_urls(_nfc(text)), rules.allowed_link_domains)
    ]

    if link is not None:
        issues += [LintIssue("link", m) for m in _bad_character_messages(link)]
        if _is_single_url(link):
            issues += [
                LintIssue("link", m)
                for m in _banned_messages(link, rules.banned_terms)
                + _link_messages([_nfc(link)], rules.allowed_link_domains)
            ]
        else:
            issues.append(
                LintIssue(
                    "link",
                    f'"{link}" is not a link X would recognise; paste one full address '
                    "like https://acme.com/page (no spaces).",
                )
            )

    if schedule_at is not None:
        message = _schedule_message(schedule_at, now)
        if message:
            issues.append(LintIssue("schedule", message))
    return issues


# ---------------------------------------------------------------------------------------------
# Rules


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _bad_character_messages(text: str) -> list[str]:
    found: dict[str, int] = {}  # character -> 1-based position of its first occurrence
    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        bad = (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs"
        if (bad or char in _X_INVALID) and char not in found:
            found[char] = position
    if not found:
        return []
    listed = ", ".join(f"U+{ord(c):04X} at character {p}" for c, p in found.items())
    noun = "character" if len(found) == 1 else "characters"
    return [
        f"Contains invisible control {noun} ({listed}); remove {'it' if len(found) == 1 else 'them'}"
        " (only line breaks and tabs are allowed)."
    ]


def _length_message(posted: str, *, has_link: bool) -> str | None:
    length = weighted_length(posted)
    over = length - MAX_WEIGHTED_LENGTH
    if over <= 0:
        return None
    notes = []
    if extract_urls(_nfc(posted)):
        notes.append(f"URLs count {URL_WEIGHT}")
    if any(weighted_length(char) == 2 for char in set(_nfc(posted))):
        notes.append("emoji and CJK characters count 2")
    why = f" ({'; '.join(notes)})" if notes else ""
    including = ", including the link," if has_link else ""
    noun = "character" if over == 1 else "characters"
    return (
        f"{over} {noun} over X's {MAX_WEIGHTED_LENGTH} limit{why}: the tweet{including} "
        f"counts {length}. Shorten it."
    )


def _is_unspaced(char: str) -> bool:
    return unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS)


@lru_cache(maxsize=1024)
def _term_pattern(term: str) -> re.Pattern[str] | None:
    """A banned term as a word-prefix pattern (see the module docstring)."""
    words = _nfc(term).split()
    if not words:
        return None
    start = "" if _is_unspaced(words[0][0]) else r"(?<!\w)"
    body = r"\s+".join(re.escape(word) for word in words)
    end = "" if _is_unspaced(words[-1][-1]) else r"\w*"
    return re.compile(start + body + end, re.IGNORECASE)


def _banned_messages(text: str, terms: Sequence[str]) -> list[str]:
    normal = _nfc(text)
    messages = []
    for term in dict.fromkeys(terms):
        pattern = _term_pattern(term)
        match = pattern.search(normal) if pattern else None
        if match is None:
            continue
        found = " ".join(match.group(0).split())
        where = "" if found == term else f' (as "{found}")'
        messages.append(
            f'Uses the banned term "{term}"{where}; this segment may not say it. Rephrase.'
        )
    return messages


def _host(url: str) -> str | None:
    """The lower-case ASCII host of a URL as extract_urls returns it (scheme optional)."""
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def _allowed(host: str, domains: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _link_messages(urls: Sequence[str], domains: Sequence[str]) -> list[str]:
    if not domains:
        return []
    allowed = ", ".join(domains)
    messages = []
    for url in dict.fromkeys(urls):
        host = _host(url)
        if host is None or not _allowed(host, domains):
            shown = host or url
            messages.append(
                f'Links to {shown} ("{url}"), which this segment may not link to; '
                f"links must go to {allowed} or a subdomain of it."
            )
    return messages


def _is_single_url(link: str) -> bool:
    return extract_urls(_nfc(link)) == [_nfc(link)]


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    shown = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n][:2]
    return " ".join(shown) or "less than a minute"


def _schedule_message(schedule_at: datetime, now: datetime) -> str | None:
    if schedule_at.utcoffset() is None:
        raise ValueError("schedule_at must be a time-zone aware datetime")
    if schedule_at < now - SCHEDULE_GRACE:
        return (
            f"The scheduled time is in the past ({_duration(now - schedule_at)} ago); pick a "
            "later time, or clear it to post as soon as the draft is approved."
        )
    if schedule_at > now + MAX_SCHEDULE_AHEAD:
        return (
            f"The scheduled time is {_duration(schedule_at - now)} ahead; drafts can be "
            f"scheduled at most {MAX_SCHEDULE_AHEAD.days} days ahead. Pick an earlier time."
        )
    return None
