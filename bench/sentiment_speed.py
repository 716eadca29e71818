"""Sentiment scoring speed: plain VADER against VADER with the brand-care lexicon (and a brand's
own terms), on one core, over a mix of care tweets. No database, no HTTP: the scorer alone.
Run: python bench/sentiment_speed.py [--texts 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.mentions import sentiment

TEXTS = [
    "@acme outage in my area again, nothing loads",
    "@acme how do I get a refund for order 1234?",
    "@acme loving the new launch, any promo codes? #AcmeConf",
    "@acme you got hacked? my account shows a lawsuit notice",
    "@acme what is your stance on privacy and sustainability?",
    "@acme thanks for the quick help yesterday!",
    "@acme charged twice for my order this month. Who do I talk to?",
    "@acme been on hold for 45 minutes. Great customer service 🙄",
    "@acme is your site down? Can't log in since this morning",
    "@acme all sorted now, thank you Jess from support!",
]
# A brand with a couple of dozen terms of its own, phrases among them.
BRAND_TERMS = {f"product {n} recall": -3.0 for n in range(12)} | {
    f"flavour{n}": 1.0 for n in range(12)
}


def rate(score: Callable[[str], float], count: int) -> float:
    """Texts scored per second."""
    texts = [TEXTS[n % len(TEXTS)] + f" #{n}" for n in range(count)]  # no two alike
    started = time.perf_counter()
    for text in texts:
        score(text)
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=20_000)
    count = parser.parse_args().texts
    vader = SentimentIntensityAnalyzer()
    scorers: dict[str, Callable[[str], float]] = {
        "plain VADER": lambda text: vader.polarity_scores(text)["compound"],
        "care lexicon": sentiment.score,
        "care lexicon + 24 brand terms": lambda text: sentiment.score(
            text, extra_terms=BRAND_TERMS
        ),
    }
    for name, score in scorers.items():
        score(TEXTS[0])  # build (and cache) the analyzer outside the timing
        print(f"{name}: {rate(score, count):,.0f} texts/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
