"""When a channel's mention cards are folded into one surge summary, and what the summary shows.

Slack takes about `messages_per_second` messages a second in one channel, so a backlog of
`max_wait_seconds * messages_per_second` unsent cards is the most that still reaches Slack within
`max_wait_seconds`: past it, one summary stands for every unsent card. While the surge lasts every
new card joins it; it ends once the channel gets fewer than half that many in a window (so a
storm tailing off doesn't flap between summaries and single cards), and each mention from then
on gets its own card again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SurgeStep(StrEnum):
    NOTHING = "nothing"  # no surge, and none needed: cards go out one by one
    OPEN = "open"  # the backlog passed the threshold: one summary for all of it
    FOLD = "fold"  # a surge is on: the new cards join it
    END = "end"  # traffic fell back: cards go out one by one again


def threshold(*, max_wait_seconds: int, messages_per_second: float) -> int:
    """How many unsent cards one channel may hold before they would wait longer than allowed."""
    return max(1, math.floor(max_wait_seconds * messages_per_second))


def next_step(*, surging: bool, backlog: int, recent: int, limit: int) -> SurgeStep:
    """`backlog`: the channel's unsent mention cards now; `recent`: the mentions its surge took
    in the last `max_wait_seconds`; `limit`: the threshold above."""
    if not surging:
        return SurgeStep.OPEN if backlog > limit else SurgeStep.NOTHING
    if backlog + recent >= math.ceil(limit / 2):
        return SurgeStep.FOLD if backlog else SurgeStep.NOTHING
    return SurgeStep.END


@dataclass(frozen=True)
class Split:
    negative: int
    neutral: int
    positive: int


def sentiment_split(scores: Iterable[float]) -> Split:
    """Counts by VADER's ±0.05 convention on the rounded score, as each card labels it."""
    negative = neutral = positive = 0
    for score in scores:
        shown = round(score, 2)
        if shown <= -0.05:
            negative += 1
        elif shown >= 0.05:
            positive += 1
        else:
            neutral += 1
    return Split(negative, neutral, positive)


@dataclass(frozen=True)
class Candidate:
    mention_id: str
    followers: int | None  # None: X hasn't told us (profiles are fetched once, on demand)
    tweeted_at: datetime


def examples(candidates: Iterable[Candidate], *, count: int) -> list[str]:
    """The mentions the summary quotes: the most-followed authors first (unknown counts last),
    then the earliest tweets."""
    ranked = sorted(
        candidates,
        key=lambda c: (c.followers is None, -(c.followers or 0), c.tweeted_at, c.mention_id),
    )
    return [c.mention_id for c in ranked[:count]]
