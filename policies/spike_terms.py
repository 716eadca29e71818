"""What a storm is about: the words its negative tweets share most.

Texts are compared as people read them (NFKC, case folded, curly apostrophes straightened), so a
look-alike "OUTAGE" typed in full-width letters counts with "outage". Links, @handles, numbers,
English stop words and the brand's own names (its name and handles, with or without # or @) are
left out: every tweet to @acme says "acme". Each word counts once per tweet, so one person
repeating a word doesn't make it the storm's; hashtags count as written (#acmefail).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_WORD = re.compile(r"#?\w+(?:'\w+)*")
_MIN_LENGTH = 3

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't during each even ever every few for from further get gets getting got
    had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's
    like me more most much must mustn't my myself no nor not now of off on once one only or other
    ought our ours ourselves out over own please really same shan't she she'd she'll she's should
    shouldn't so some still such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up
    us very via was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's will with won't would wouldn't yet you you'd
    you'll you're you've your yours yourself yourselves amp rt im dont cant wont thats ive youre
    hey guys anyone anybody someone today yesterday tomorrow
    """.split()  # noqa: SIM905 (a list literal of 200 words would not read)
)


def normalise(text: str) -> str:
    """As a reader sees it: look-alike letters folded, case folded, apostrophes straight."""
    return unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")


def top_terms(texts: Iterable[str], *, own_names: Iterable[str], limit: int = 5) -> list[str]:
    """The `limit` words found in the most texts (ties: alphabetical), without the brand's own."""
    own = {normalise(n).lstrip("@#") for n in own_names}
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_terms(text, own))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [term for term, _ in ranked[:limit]]


def _terms(text: str, own: set[str]) -> set[str]:
    text = _HANDLE.sub(" ", _URL.sub(" ", normalise(text)))
    found = set()
    for word in _WORD.findall(text):
        bare = word.lstrip("#")
        if (
            len(bare) < _MIN_LENGTH
            or bare.isdigit()
            or bare in STOP_WORDS
            or bare in own
            or bare.replace("'", "") in STOP_WORDS
        ):
            continue
        found.add(word)
    return found
