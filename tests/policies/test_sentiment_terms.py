"""The brand-care lexicon's rules: which texts a term matches, what a valid term is."""

from __future__ import annotations

import pytest

from policies.sentiment_terms import (
    CARE_TERMS,
    effective_terms,
    is_emoji_term,
    normalise_term,
    phrase_pattern,
    prepare,
    term_problem,
    token,
)

PHRASES = frozenset(t for t in CARE_TERMS if " " in t)


@pytest.mark.parametrize(
    ("text", "prepared"),
    [
        ("charged twice for one order", "charged_twice for one order"),
        ("CHARGED TWICE!!", "CHARGED_TWICE!!"),  # capitals kept: VADER reads them as shouting
        ("Charged\n  twice", "Charged_twice"),  # any spacing between the words
        ("recharged twice", "recharged twice"),  # whole words only
        ("the site down?", "the site_down?"),
        ("the app is down again", "the app is_down again"),  # leftmost match wins
        ("down again", "down_again"),
        ("how do I download it", "how do I download it"),  # "download" is not "down"
        ("a breakdown of charges", "a breakdown of charges"),
        ("calm down, I'm coming down the road", "calm down, I'm coming down the road"),
        ("it keeps crashing", "it keeps_crashing"),  # longest phrase first
        ("it won\u2019t load", "it won't_load"),  # a phone's apostrophe is a straight one
        ("thanks for nothing.", "thanks_for_nothing."),
        ("is not down", "is not down"),  # left to VADER: no care term in it
        ("@acme_down isn't down", "@acme_down isn't down"),
    ],
)
def test_phrases_become_one_token_on_whole_words(text: str, prepared: str) -> None:
    assert prepare(text, phrase_pattern(PHRASES)) == prepared


def test_without_phrases_only_apostrophes_change() -> None:
    assert prepare("can\u2019t log in", phrase_pattern(frozenset())) == "can't log in"


@pytest.mark.parametrize(
    ("term", "problem"),
    [
        ("out of stock", None),
        ("  Out   Of Stock ", None),
        ("wi-fi", None),
        ("can't", None),
        ("🙄", None),
        ("\u2764\ufe0f", None),
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("#promo", "is not a sentiment term"),
        ("@acme", "is not a sentiment term"),
        ("!!", "is not a sentiment term"),
        ("refund!", "is not a sentiment term"),
        ("🙄🙄", "is not a sentiment term"),
    ],
)
def test_a_term_is_words_or_one_emoji(term: str, problem: str | None) -> None:
    found = term_problem(term)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("term", "normalised", "as_token"),
    [
        ("Charged  Twice", "charged twice", "charged_twice"),
        ("Won\u2019t Load", "won't load", "won't_load"),
        ("outage", "outage", "outage"),
        ("\u2764\ufe0f", "\u2764", "\u2764"),  # a heart with its emoji-style selector
    ],
)
def test_terms_are_lower_case_single_spaced_and_tokens_join_words(
    term: str, normalised: str, as_token: str
) -> None:
    assert normalise_term(term) == normalised
    assert token(term) == as_token


def test_every_care_term_is_valid_normalised_and_on_vaders_scale() -> None:
    for term, weight in CARE_TERMS.items():
        assert term_problem(term) is None, term
        assert normalise_term(term) == term, term
        assert -4.0 <= weight <= 4.0, term


def test_only_single_characters_beyond_ascii_and_punctuation_are_emoji() -> None:
    assert [t for t in ("🙄", "😡", "a", "!", "é", "—", "🙄🙄") if is_emoji_term(t)] == ["🙄", "😡"]


def test_a_brands_terms_add_to_the_care_terms_and_win_over_them() -> None:
    terms = effective_terms({"Out Of Stock": -2, "Refund": 0, "blaze": 0})
    assert terms["out of stock"] == -2.0
    assert terms["refund"] == 0.0 != CARE_TERMS["refund"]
    assert terms["outage"] == CARE_TERMS["outage"]
    assert effective_terms({}) == dict(CARE_TERMS)
