"""VADER compound sentiment (-1 … +1), computed once per mention at ingest."""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def score(text: str) -> float:
    return round(float(_analyzer().polarity_scores(text)["compound"]), 4)
