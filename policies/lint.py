"""Draft lint: the rules a tweet draft must pass before it can go for approval.

`lint_draft(text=..., segment=..., link=..., schedule_at=..., now=...)` returns every problem
at once as `LintIssue`s, each tied to the modal input it belongs to (``"text"``, ``"link"`` or
``"schedule"``) and worded for the person drafting. An empty list means the draft may go for
approval. The rules, and the product decisions behind them:

- **The posted text** is `compose_post(text, link)`: the text and the link with surrounding
  whitespace stripped, joined by one space (``"text link"``); a link that is empty or only
  whitespace counts as no link. Length and the fingerprint are taken of this string.
- **Empty text**: text with no visible character is refused, even when a link is given (a bare
  link is not a brand tweet). Not visible are whitespace, controls (Cc), format characters (Cf:
  zero-width space, word joiner, bidi controls such as U+202E, …), combining marks with nothing
  visible to sit on, and the blank fillers U+115F, U+1160, U+3164, U+FFA0 and U+2800.
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
  matching term is reported once, quoting the first place it matched, as written in the draft.
- **Disguised banned terms**: a term also matches when it is written with look-alike or
  invisible characters. For this check only (never for what is posted or fingerprinted) both the
  text and the term are put in a *matching form*: each character is decomposed (NFKD, so
  fullwidth letters and ligatures become plain letters); format characters (Cf: U+200B, U+00AD,
  U+2060, ZWJ, bidi controls, …) and the Hangul fillers are dropped; combining marks are dropped
  when they sit on a Latin, Greek, Cyrillic, Armenian or CJK letter, a look-alike of a Latin
  letter, or a non-letter (so
  "guara" + U+0301 + "ntee" and "guarantée" match "guarantee"), but kept on letters of scripts
  that spell with them (Devanagari, Thai, Hebrew, kana, …); letters are case-folded; and a
  non-ASCII character that Unicode's confusables data (UTS #39, via the
  ``confusable-homoglyphs`` package) says looks like an ASCII letter or digit is read as that
  letter — taken as written first (Greek capital nu reads "n"), else in lower case (Cyrillic
  U+0456 reads "i"). UTS #39 maps capital-I shapes and small-l shapes to one prototype, so such
  a character matches both "i" and "l". ASCII characters are never remapped (``0``/``O``,
  ``rn``/``m`` stay distinct, as before). A term matches in this form with the same word-prefix
  rule, and each term letter matches any case of itself, so a Cyrillic term still matches
  case-insensitively. The message quotes the draft's own characters (invisible ones shown as
  ``[U+200B]``) and says the term was disguised. Folding only maps look-alikes *to* Latin, so
  real Russian ("гарантия") is not "guarantee"; the price is that a word written entirely in
  look-alike letters (Cyrillic U+0441 U+043E U+0440) matches the Latin term "cop". A word glued
  to the term by an invisible character ("best" + U+200B + "guarantee") is still flagged: the
  text is checked in both its plain NFC form and its matching form.
- **Why a library**: ``confusable-homoglyphs`` (MIT, pure Python, no dependencies) ships the
  Unicode confusables table; it has no skeleton function, so the table of non-ASCII characters
  whose only ASCII homoglyph is an ASCII letter or digit is derived from its data at import (a
  read of the package's own data file, like importing a module; no I/O afterwards). A
  hand-written table would cover a fraction of the ~1,700 look-alikes (mathematical letters are
  handled by NFKD anyway, but Cherokee, Lisu, Coptic, … are not).
- **Links**: every URL that X would turn into a link (found with ``twitter_text.extract_urls``,
  so bare domains like ``acme.com/x`` count, exactly as X counts them) and the link field must
  point to a host equal to, or a subdomain of, one of the segment's
  ``create.allowed_link_domains``. Hosts are compared lower-cased and in their ASCII (IDNA)
  form, so look-alikes such as ``acme.com.evil.io``, ``evilacme.com`` or ``acme.com`` spelt with
  a Cyrillic "a" (U+0430) are refused. When that list is empty, any link is allowed. Text that X
  does not link (``support@acme.com``, ``https://acme.com@evil.io``) is not a link and is not
  checked. Because a reader's client may link what X does not, URLs are also looked for in the
  text's matching form (as for banned terms, plus the full stops that IDNA treats as dots:
  U+3002 IDEOGRAPHIC FULL STOP, U+FF0E FULLWIDTH FULL STOP, U+FF61 become ``.``; look-alike
  letters read as Latin), and any such URL whose host is not allowed is refused too, quoted as
  written (``https://evil<U+3002>io``, a fullwidth ``evil.io``, ``acme.com<U+200B>.evil.io``). A
  host that only *normalises* to an allowed one (``acme<U+3002>com``, a fullwidth ``acme.com``)
  is allowed: it leads to the brand's own site. A host with Cyrillic letters is still refused by
  the plain check (its IDNA form is ``xn--…``), even though its matching form reads
  ``acme.com``.
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

from confusable_homoglyphs.confusables import confusables_data
from twitter_text import extract_urls, extract_urls_with_indices

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
# Letters (Lo) that render as nothing: Hangul fillers (default-ignorable), and the braille blank.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
_BLANKS = _FILLERS | frozenset("\u2800")
_MARKS = ("Mn", "Me")
# Scripts whose letters do not need combining marks to be spelt: a mark on them is decoration.
_DECORATED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "CJK")
# Full stops that IDNA (and so browsers and clients) treat as the dot between labels.
_IDNA_DOTS = frozenset("\u3002\uff0e\uff61")
# Matching-form stand-in for a capital-I / small-l shape (UTS #39 has one prototype, "l", for
# both). A dotless i never survives folding (it reads "i"), so it cannot come from the text.
_I_OR_L = "\u0131"
DISGUISED = "written with look-alike or invisible characters"


def _latin_lookalikes() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letters or digits it looks like (UTS #39 confusables).

    confusable-homoglyphs records each confusables.txt pair in both directions; a non-ASCII
    character is confusable with an ASCII string only as its source, so its one ASCII entry is
    its prototype.
    """
    table: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii() or unicodedata.category(char)[0] in "MC":
            continue
        latin = [glyph["c"] for glyph in homoglyphs if glyph["c"].isascii()]
        if len(latin) == 1 and latin[0].isalnum():
            table[char] = latin[0].lower()
    return table


LATIN_LOOKALIKES = _latin_lookalikes()


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
    elif not any(_is_visible(char) for char in text):
        shown = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(text) if not c.isspace())
        issues.append(
            LintIssue(
                "text",
                f"The tweet is empty: it has only invisible characters ({shown}); write the "
                "text of the tweet.",
            )
        )
    issues += [LintIssue("text", m) for m in _bad_character_messages(text)]
    length = _length_message(compose_post(text, link), has_link=link is not None)
    if length:
        issues.append(LintIssue("text", length))
    issues += [LintIssue("text", m) for m in _banned_messages(text, rules.banned_terms)]
    issues += [
        LintIssue("text", m) for m in _all_link_messages(_nfc(text), rules.allowed_link_domains)
    ]

    if link is not None:
        issues += [LintIssue("link", m) for m in _bad_character_messages(link)]
        if _is_single_url(link):
            issues += [
                LintIssue("link", m)
                for m in _banned_messages(link, rules.banned_terms)
                + _link_messages([_nfc(link)], rules.allowed_link_domains)
                + _disguised_link_messages(_nfc(link), [_nfc(link)], rules.allowed_link_domains)
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


def _is_visible(char: str) -> bool:
    category = unicodedata.category(char)
    return not (char.isspace() or category in ("Cc", "Cf", "Cs", *_MARKS) or char in _BLANKS)


def _is_invisible(char: str) -> bool:
    """Dropped from the matching form: format characters and the Hangul fillers."""
    return unicodedata.category(char) == "Cf" or char in _FILLERS


def _marks_are_decoration(base: str) -> bool:
    """Whether combining marks on `base` are dropped from the matching form."""
    if base.isascii() or not unicodedata.category(base).startswith("L"):
        return True
    if base in LATIN_LOOKALIKES or base.casefold() in LATIN_LOOKALIKES:
        return True  # it reads as a Latin letter, so a mark on it is decoration too
    return unicodedata.name(base, "").startswith(_DECORATED_SCRIPTS)


def _decompose(char: str) -> str:
    if "\uac00" <= char <= "\ud7a3":  # a Hangul syllable stays whole (NFKC)
        return unicodedata.normalize("NFKC", char)
    return unicodedata.normalize("NFKD", char)


def _read(char: str, *, link: bool) -> str:
    """How one decomposed, visible, non-mark character reads in the matching form."""
    if char.isascii():
        return char.lower()
    if link and char in _IDNA_DOTS:
        return "."
    for candidate in (char, char.casefold()):
        latin = LATIN_LOOKALIKES.get(candidate)
        if latin is not None:
            return _I_OR_L if latin == "l" and not link else latin
    return char.casefold()


def _fold(char: str, drop_marks: bool, *, link: bool = False) -> tuple[str, bool]:
    """The matching form of one NFC character, and whether marks after it are dropped.

    `drop_marks` says whether a combining mark here would be dropped (it depends on the base
    character before it); the result says the same for the character after this one.
    """
    out = []
    for part in _decompose(char):
        if _is_invisible(part):
            continue
        if unicodedata.category(part) in _MARKS:
            if not drop_marks:
                out.append(part)
            continue
        drop_marks = _marks_are_decoration(part)
        out.append(_read(part, link=link))
    return "".join(out), drop_marks


def matching_form(text: str, *, link: bool = False) -> tuple[str, list[int]]:
    """The matching form of NFC `text` (see the module docstring), and for each of its
    characters the index in `text` of the character it came from. Used only to match."""
    out: list[str] = []
    origin: list[int] = []
    drop_marks = True
    for index, char in enumerate(text):
        folded, drop_marks = _fold(char, drop_marks, link=link)
        out.append(folded)
        origin += [index] * len(folded)
    return "".join(out), origin


def _original(text: str, origin: Sequence[int], start: int, end: int) -> str:
    """The characters of `text` that the matching form's [start, end) came from."""
    return text[origin[start] : origin[end - 1] + 1]


def _shown(text: str) -> str:
    """Text to quote back to the author: invisible characters written as [U+XXXX]."""
    return "".join(c if _is_visible(c) or c == " " else f"[U+{ord(c):04X}]" for c in text)


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


@lru_cache(maxsize=1024)
def _disguised_pattern(term: str) -> re.Pattern[str] | None:
    """A banned term as a word-prefix pattern over the matching form; each of its letters
    matches the matching form of any case of itself (so case-insensitivity survives folding)."""
    words = _nfc(term).split()
    if not words:
        return None
    bodies = []
    for word in words:
        parts = []
        drop_marks = True
        for char in word:
            variants = dict.fromkeys((char, char.lower(), char.upper(), char.casefold()))
            readings = {_fold(v, drop_marks)[0] for v in variants} - {""}
            drop_marks = _fold(char, drop_marks)[1]
            if readings:
                options = sorted((_letters_pattern(r) for r in readings), key=len, reverse=True)
                parts.append(options[0] if len(options) == 1 else f"(?:{'|'.join(options)})")
        if not parts:
            return None
        bodies.append("".join(parts))
    start = "" if _is_unspaced(words[0][0]) else r"(?<!\w)"
    end = "" if _is_unspaced(words[-1][-1]) else r"\w*"
    return re.compile(start + r"\s+".join(bodies) + end)


def _letters_pattern(reading: str) -> str:
    """A reading as a regex; an "i" or "l" also matches the capital-I / small-l stand-in."""
    return "".join(f"[{c}{_I_OR_L}]" if c in "il" else re.escape(c) for c in reading)


def _banned_messages(text: str, terms: Sequence[str]) -> list[str]:
    normal = _nfc(text)
    folded, origin = matching_form(normal)
    messages = []
    for term in dict.fromkeys(terms):
        pattern = _term_pattern(term)
        match = pattern.search(normal) if pattern else None
        if match is not None:
            found = " ".join(match.group(0).split())
            where = "" if found == term else f' (as "{found}")'
        else:
            disguised = _disguised_pattern(term)
            match = disguised.search(folded) if disguised else None
            if match is None:
                continue
            found = " ".join(_original(normal, origin, *match.span()).split())
            where = f' (as "{_shown(found)}", {DISGUISED})'
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
                f'Links to {shown} ("{_shown(url)}"), which this segment may not link to; '
                f"links must go to {allowed} or a subdomain of it."
            )
    return messages


def _all_link_messages(text: str, domains: Sequence[str]) -> list[str]:
    """Links in NFC `text` as X finds them, then those only its matching form shows."""
    urls = extract_urls(text)
    return _link_messages(urls, domains) + _disguised_link_messages(text, urls, domains)


def _disguised_link_messages(text: str, seen: Sequence[str], domains: Sequence[str]) -> list[str]:
    """Refused hosts of URLs in the matching form of NFC `text` not already checked as `seen`."""
    if not domains:
        return []
    folded, origin = matching_form(text, link=True)
    allowed = ", ".join(domains)
    messages: dict[str, str] = {}
    for found in extract_urls_with_indices(folded):
        start, end = found["indices"]
        original = _original(text, origin, start, end)
        host = _host(found["url"])
        if original in seen or original in messages or (host and _allowed(host, domains)):
            continue
        messages[original] = (
            f'Links to {host or found["url"]} ("{_shown(original)}", {DISGUISED}), which this '
            f"segment may not link to; links must go to {allowed} or a subdomain of it."
        )
    return list(messages.values())


def _is_single_url(link: str) -> bool:
    return bool(extract_urls(_nfc(link)) == [_nfc(link)])


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
