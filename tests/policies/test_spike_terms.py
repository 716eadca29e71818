"""What a storm is about (policies/spike_terms.py): its negative tweets' most shared words."""

from __future__ import annotations

import pytest

from policies.spike_terms import normalise, top_terms

OWN = ["Acme", "acme", "acmehelp"]

CASES = [
    # texts → top terms
    (["@acme outage again", "@acme the outage is awful", "outage!!"], ["outage", "awful"]),
    # the brand's own names, handles, links and stop words are not what a storm is about
    (["@acmehelp Acme is down https://t.co/abc #acme", "acme acme"], ["down"]),
    # one person repeating a word counts once
    (["refund refund refund refund", "hacked", "hacked account"], ["hacked", "account", "refund"]),
    # look-alike letters and curly apostrophes read as the plain word
    (
        ["\uff2f\uff35\uff34\uff21\uff27\uff25 in leeds", "Outage in Leeds", "can\u2019t login"],
        ["leeds", "outage", "login"],
    ),
    # hashtags count as written; numbers and "again" (a stop word) don't
    (["#acmefail 500 errors", "#AcmeFail again 2026"], ["#acmefail", "errors"]),
]


@pytest.mark.parametrize(("texts", "expected"), CASES)
def test_top_terms(texts: list[str], expected: list[str]) -> None:
    assert top_terms(texts, own_names=OWN, limit=3) == expected


def test_at_most_the_limit() -> None:
    texts = [f"word{i} other{i} thing{i}" for i in range(10)]
    assert len(top_terms(texts, own_names=OWN, limit=5)) == 5


def test_normalise_folds_width_and_case() -> None:
    assert normalise("\uff21\uff23\uff2d\uff25 Can\u2019t") == "acme can't"
