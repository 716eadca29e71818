"""The brand-care lexicon: words and phrases that mean something particular in tweets to a brand.

VADER (the general-purpose scorer) reads "outage again, refund please" as positive: it knows
neither word, and "please" is polite. These terms are added to its lexicon, on VADER's own
scale (-4 very negative … 4 very positive; "bad" is -2.5, "great" 3.1). A weight of 0 makes a
word neutral: "support" is a team's name in a care tweet, not praise.

VADER scores one token at a time, so a phrase is rewritten into one token before scoring
("charged twice" → ``charged_twice``); VADER's rules then apply to it as to any word: a
negation in the three words before it flips it, capitals stress it, "but" shifts weight to what
follows. VADER lets no negation reach past a lexicon word, so a phrase holding one ("still
hasn't") would stop it negating what follows; such phrases are left to VADER ("hasn't been
fixed" stays negated), and the phrases here are whole complaints ("not working").

Matching is on whole words in any case: "download" is not "down", and the bare word "down" is
not a term at all (calm down, down the road) — "is down", "site down" are.

This module is pure: it says what the terms are and how a text is rewritten; the scorer that
feeds the result to VADER is `bot.mentions.sentiment`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# What goes down in a care tweet, and how people say it went down.
_DOWN_SUBJECTS = (
    "app", "site", "website", "service", "server", "servers", "system", "systems", "network",
    "internet", "wifi", "broadband", "checkout", "login", "api",
)  # fmt: skip
_DOWN_VERBS = ("is", "are", "was", "were", "been", "went", "goes", "going", "still")

CARE_TERMS: Mapping[str, float] = {
    # outages and things that do not work
    "outage": -2.5,
    "outages": -2.5,
    **{f"{subject} down": -2.0 for subject in _DOWN_SUBJECTS},
    **{f"{verb} down": -2.0 for verb in _DOWN_VERBS},
    "down again": -2.5,
    "downtime": -2.0,
    "not working": -2.2,
    "isn't working": -2.2,
    "stopped working": -2.2,
    "doesn't work": -2.2,
    "does not work": -2.2,
    "not loading": -2.0,
    "won't load": -2.0,
    "won't let me": -1.8,
    "can't log in": -2.0,
    "cannot log in": -2.0,
    "can't login": -2.0,
    "unable to": -1.2,
    "try again later": -1.5,
    "crashed": -2.0,
    "crashes": -2.0,
    "crashing": -2.0,
    "keeps crashing": -2.5,
    "broke": -1.8,  # VADER's "broke" means penniless; here it is what an update did
    "bug": -1.5,
    "buggy": -2.0,
    "glitch": -1.5,
    "glitchy": -1.8,
    "laggy": -1.8,
    "faulty": -2.0,
    "defective": -2.2,
    "locked out": -2.0,
    # billing
    "charged twice": -2.5,
    "charged me twice": -2.5,
    "double charged": -2.5,
    "overcharged": -2.5,
    "hidden fees": -2.0,
    "hidden charges": -2.0,
    "charges": 0.0,  # the bill's lines, not criminal charges
    "never went through": -2.0,
    "refund": -1.5,  # asking for one is a complaint …
    "refund came through": 2.0,  # … receiving it is not
    "got my refund": 2.0,
    "rip off": -2.8,
    "ripoff": -2.8,
    "ripped off": -2.8,
    "scammed": -2.8,
    # leaving ("cancel" alone is an errand: cancel an order I placed by mistake)
    "cancel": 0.0,
    "want to cancel": -2.0,
    "going to cancel": -2.0,
    "cancel my subscription": -2.0,
    "cancel my membership": -2.0,
    "cancel my account": -2.0,
    "cancelling my": -2.0,
    "canceling my": -2.0,
    "unsubscribe": -1.5,
    "never again": -2.5,
    "switching to": -1.5,
    # waiting and being ignored
    "still waiting": -2.0,
    "no response": -2.0,
    "no reply": -2.0,
    "no answer": -2.0,
    "no update": -1.5,
    "no updates": -1.5,
    "on hold": -2.0,
    "been days": -1.5,
    "been weeks": -1.8,
    "been hours": -1.5,
    "late": -1.2,
    "late night": 0.0,
    "never arrived": -2.2,
    "never received": -2.2,
    "hasn't arrived": -1.8,
    "nowhere to be found": -2.2,
    "where is my order": -1.5,
    "where's my order": -1.5,
    # sarcasm and contempt a person reads at once
    "thanks for nothing": -2.8,
    "how you treat": -2.2,
    "so much for": -1.5,
    "🙄": -2.2,
    "😡": -2.8,
    "😤": -2.2,
    # words that are only politeness or a team's name in a care tweet
    "please": 0.0,
    "pls": 0.0,
    "plz": 0.0,
    "help": 0.0,
    "support": 0.0,
    "number": 0.0,  # order, account and phone numbers (VADER gives the word +0.3)
    "by mistake": 0.0,  # the customer's own slip is a request, not a complaint
    "by accident": 0.0,
    # things put right
    "thanks for fixing": 3.0,
    "fixed": 1.5,
    "sorted": 1.5,
    "sorted out": 2.0,
    "sorting it out": 2.0,
    "resolved": 1.8,
    "quick response": 2.5,
    "quick fix": 2.0,
    "fast response": 2.5,
    "great support": 3.0,
    "above and beyond": 3.0,
    "back up and running": 2.0,
    "shoutout": 2.0,
    "shout out": 2.0,
    "kudos": 2.5,
}

# Negative terms that a negation does not turn positive: "refund" is what the customer is owed,
# so its absence ("no refund yet", "never got my refund") is the complaint itself; a "no …"
# phrase already holds its negation, and a "no" before it ("no refund, no reply") is a list.
UNNEGATED_TERMS = frozenset(
    {"refund", "no reply", "no response", "no answer", "no update", "no updates"}
)

_CURLY_APOSTROPHE = "\u2019"  # what phones type for '
_EMOJI_STYLE = "\ufe0f"  # follows many emoji ("❤️"); VADER's emoji are single characters
_WORDS = re.compile(r"\w+(?:['-]\w+)*")


def normalise_term(term: str) -> str:
    """A term as matched: lower case, one space between words, straight apostrophes."""
    plain = term.replace(_CURLY_APOSTROPHE, "'").replace(_EMOJI_STYLE, "")
    return " ".join(plain.lower().split())


def term_problem(term: str) -> str | None:
    """Why `term` cannot be a sentiment term, or None: a term is words, or one emoji."""
    text = normalise_term(term)
    if not text:
        return "a sentiment term cannot be empty"
    if is_emoji_term(text) or " ".join(_WORDS.findall(text)) == text:
        return None
    return (
        f"{term!r} is not a sentiment term: words of letters and digits "
        "(with ' or - inside a word), like 'charged twice', or one emoji"
    )


def is_emoji_term(term: str) -> bool:
    """One symbol character (Unicode's "other symbol"): an emoji like 🙄."""
    return len(term) == 1 and unicodedata.category(term) == "So"


def token(term: str) -> str:
    """The one token a term becomes for VADER: "charged twice" → "charged_twice"."""
    return normalise_term(term).replace(" ", "_")


def effective_terms(extra: Mapping[str, float]) -> dict[str, float]:
    """The care terms with a brand's own `sentiment.extra_terms` added; the brand's weight wins."""
    terms = {normalise_term(t): w for t, w in CARE_TERMS.items()}
    terms.update({normalise_term(t): float(w) for t, w in extra.items()})
    return terms


@lru_cache(maxsize=16)
def phrase_pattern(phrases: frozenset[str]) -> re.Pattern[str] | None:
    """One pattern for every multi-word term: whole words only, any case, any spacing between
    the words, and the longest phrase wins ("keeps crashing" over "crashing")."""
    if not phrases:
        return None
    return re.compile(r"(?<![\w'])" + _trie(phrases) + r"(?![\w'])", re.IGNORECASE)


def _trie(phrases: frozenset[str]) -> str:
    """The phrases as a character trie ("on hold" | "on the way" → "on\\s+(?:hold|the\\s+way)"):
    a plain alternation of a hundred phrases is tried branch by branch at every character and
    made scoring half as fast as VADER alone; the trie fails at the first wrong letter."""
    root: dict[str, dict[str, Any]] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[_END] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [
            (r"\s+" if char == " " else re.escape(char)) + pattern(child)
            for char, child in sorted(node.items())
            if char != _END
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if _END in node else body  # greedy: the longer phrase first

    return pattern(root)


_END = ""  # marks where a phrase ends in the trie


def prepare(text: str, pattern: re.Pattern[str] | None) -> str:
    """`text` as VADER should read it: straight apostrophes (phones type curly ones, and VADER's
    negations are spelt with '), and every phrase of `pattern` joined into its token, capitals
    kept so that "CHARGED TWICE" still reads as shouted."""
    text = text.replace(_CURLY_APOSTROPHE, "'")
    if pattern is None:
        return text
    return pattern.sub(lambda m: "_".join(m[0].split()), text)
