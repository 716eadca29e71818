"""Sentiment (-1 … +1), computed once per mention at ingest: VADER's compound score with the
brand-care lexicon (`policies.sentiment_terms`) and the brand's own `sentiment.extra_terms`."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from policies.sentiment_terms import (
    UNNEGATED_TERMS,
    effective_terms,
    is_emoji_term,
    phrase_pattern,
    prepare,
    token,
)


class CareAnalyzer:
    """VADER with extra terms: words go into its lexicon, phrases are joined into one token
    first, and an emoji term replaces VADER's spelt-out description of that emoji. A weight of
    0 takes the word out of the lexicon, so it reads like any word VADER does not know."""

    def __init__(self, terms: Mapping[str, float]) -> None:
        vader = copy.copy(_vader())
        vader.lexicon = dict(vader.lexicon)
        vader.emojis = dict(vader.emojis)
        for term, weight in terms.items():
            name = token(term)
            if is_emoji_term(term):
                name = vader.emojis.get(term, f"emoji {ord(term):x}").replace(" ", "_")
                vader.emojis[term] = name
            if weight:
                vader.lexicon[name] = weight
            else:
                vader.lexicon.pop(name, None)
        _keep_unnegated_negative(vader, frozenset(map(token, UNNEGATED_TERMS)))
        self._vader = vader
        self._phrases: re.Pattern[str] | None = phrase_pattern(
            frozenset(t for t in terms if " " in t)
        )

    def score(self, text: str) -> float:
        compound = self._vader.polarity_scores(prepare(text, self._phrases))["compound"]
        return round(float(compound), 4)


def _keep_unnegated_negative(vader: SentimentIntensityAnalyzer, tokens: frozenset[str]) -> None:
    """VADER flips a word's valence after a negation ("not", "no", "never", "didn't"); for
    `tokens` a flip to positive is undone, so "no refund yet" stays a complaint. Set on this
    copy only: the shared analyzer (plain VADER) is left as it is."""
    valence_of = vader.sentiment_valence

    def sentiment_valence(
        valence: float, sentitext: Any, item: str, i: int, sentiments: list[float]
    ) -> list[float]:
        sentiments = valence_of(valence, sentitext, item, i, sentiments)
        word = item.lower()  # called for every word of every mention: the set test first
        if word in tokens and vader.lexicon.get(word, 0.0) < 0 < sentiments[-1]:
            sentiments[-1] = -sentiments[-1]
        return sentiments

    vader.sentiment_valence = sentiment_valence  # this copy only


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # reads its lexicon files: once per process


def analyzer_for(extra_terms: Mapping[str, float] | None = None) -> CareAnalyzer:
    """The analyzer for a brand's extra terms (none: the care lexicon alone), built once."""
    return _analyzer(tuple(sorted((extra_terms or {}).items())))


@lru_cache(maxsize=16)
def _analyzer(extra_terms: tuple[tuple[str, float], ...]) -> CareAnalyzer:
    # Keyed by the terms themselves, so an edited app.yaml gets a new one; building one copies
    # VADER's 7,500-word lexicon (a few ms), scoring with it costs what VADER alone costs.
    return CareAnalyzer(effective_terms(dict(extra_terms)))


def score(text: str, *, extra_terms: Mapping[str, float] | None = None) -> float:
    """The care-aware compound score of `text`, with a brand's extra terms if given."""
    return _score(analyzer_for(extra_terms), text)


@lru_cache(maxsize=4096)
def _score(analyzer: CareAnalyzer, text: str) -> float:
    # A storm repeats itself (the same complaint pasted by hundreds, "@acme is it down?"): each
    # text is scored once. Keyed by the analyzer too, so a brand's new terms score afresh.
    return analyzer.score(text)


def vader_score(text: str) -> float:
    """Plain VADER, no care lexicon: what the lexicon is measured against."""
    return round(float(_vader().polarity_scores(text)["compound"]), 4)
