"""The surge rules as a table: when a channel's cards fold into one summary, and what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.permissions import Actor, may_show_surge_cards
from policies.surge import (
    Candidate,
    Split,
    SurgeStep,
    examples,
    next_step,
    sentiment_split,
    threshold,
)

THRESHOLDS = [
    # max wait, messages per second, threshold
    (60, 1.0, 60),  # the defaults: a minute of cards at Slack's pace
    (60, 0.5, 30),
    (5, 0.1, 1),  # never below one card
    (10, 2.5, 25),
]


@pytest.mark.parametrize(("wait", "rate", "expected"), THRESHOLDS)
def test_threshold_is_what_the_channel_sends_within_the_wait(
    wait: int, rate: float, expected: int
) -> None:
    assert threshold(max_wait_seconds=wait, messages_per_second=rate) == expected


STEPS = [
    # surging, backlog, recent, threshold, step
    (False, 0, 0, 60, SurgeStep.NOTHING),
    (False, 60, 0, 60, SurgeStep.NOTHING),  # exactly a minute's worth still goes out in time
    (False, 61, 0, 60, SurgeStep.OPEN),
    (True, 5, 200, 60, SurgeStep.FOLD),  # the storm goes on: new cards join the summary
    (True, 0, 200, 60, SurgeStep.NOTHING),  # nothing new this pass, but the storm is not over
    (True, 10, 20, 60, SurgeStep.FOLD),  # 30 a minute: half the pace still counts as a surge
    (True, 10, 19, 60, SurgeStep.END),  # below half: cards one by one again
    (True, 0, 0, 60, SurgeStep.END),
    (True, 1, 0, 1, SurgeStep.FOLD),
]


@pytest.mark.parametrize(("surging", "backlog", "recent", "limit", "step"), STEPS)
def test_next_step(surging: bool, backlog: int, recent: int, limit: int, step: SurgeStep) -> None:
    assert next_step(surging=surging, backlog=backlog, recent=recent, limit=limit) == step


SPLITS = [
    ([], Split(0, 0, 0)),
    ([-0.9, -0.05, -0.044, 0.0, 0.044, 0.05, 0.7], Split(2, 3, 2)),
    ([-0.046], Split(1, 0, 0)),  # rounds to -0.05, which its card calls negative
]


@pytest.mark.parametrize(("scores", "split"), SPLITS)
def test_sentiment_split_counts_as_each_card_labels(scores: list[float], split: Split) -> None:
    assert sentiment_split(scores) == split


T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _c(mention_id: str, followers: int | None, minute: int) -> Candidate:
    return Candidate(mention_id, followers, T0 + timedelta(minutes=minute))


EXAMPLES = [
    # candidates, count, expected ids
    ([_c("a", 10, 0), _c("b", 5000, 1), _c("c", 300, 2)], 2, ["b", "c"]),
    ([_c("a", None, 0), _c("b", 1, 5)], 2, ["b", "a"]),  # a known count beats an unknown one
    ([_c("a", None, 3), _c("b", None, 1), _c("c", None, 2)], 5, ["b", "c", "a"]),  # oldest first
    ([_c("a", 7, 3), _c("b", 7, 1)], 1, ["b"]),
    ([], 5, []),
]


@pytest.mark.parametrize(("candidates", "count", "expected"), EXAMPLES)
def test_examples_most_followed_authors_first(
    candidates: list[Candidate], count: int, expected: list[str]
) -> None:
    assert examples(candidates, count=count) == expected


SHOW_CASES = [
    # admin, responder, allowed
    (True, False, True),
    (False, True, True),
    (False, False, False),  # someone outside the channel's responders
]


@pytest.mark.parametrize(("admin", "responder", "allowed"), SHOW_CASES)
def test_who_may_show_a_surges_cards(admin: bool, responder: bool, allowed: bool) -> None:
    actor = Actor("U0X", is_admin=admin, is_responder=responder)
    assert may_show_surge_cards(actor=actor).allowed is allowed
