"""Tweet text rules that X itself applies."""

from __future__ import annotations

import re

from twitter_text import parse_tweet

MAX_WEIGHTED_LENGTH = 280


def weighted_length(text: str) -> int:
    """X's weighted length (twitter-text v3): URLs count 23, CJK and emoji count 2."""
    return int(parse_tweet(text).weightedLength)


def names_account(text: str, handle: str) -> bool:
    """Whether the tweet @mentions this handle: `@acme` is not named by `@acme_help`, since X
    handles run on over letters, digits and underscores; case does not matter."""
    return re.search(rf"(?<![\w@])@{re.escape(handle)}(?!\w)", text, re.IGNORECASE) is not None
