"""Tweet text rules that X itself applies."""

from __future__ import annotations

from twitter_text import parse_tweet

MAX_WEIGHTED_LENGTH = 280


def weighted_length(text: str) -> int:
    """X's weighted length (twitter-text v3): URLs count 23, CJK and emoji count 2."""
    return int(parse_tweet(text).weightedLength)
